package shardmap

import (
	"testing"

	"github.com/streamproc/streamproc"
)

func TestEvenMatchesCreateStream(t *testing.T) {
	// The N=3 layout from the AWS CLI sample output.
	want := []streamproc.Shard{
		{ID: "shardId-000000000000", StartingHashKey: "0", EndingHashKey: "113427455640312821154458202477256070484"},
		{ID: "shardId-000000000001", StartingHashKey: "113427455640312821154458202477256070485", EndingHashKey: "226854911280625642308916404954512140969"},
		{ID: "shardId-000000000002", StartingHashKey: "226854911280625642308916404954512140970", EndingHashKey: "340282366920938463463374607431768211455"},
	}
	got := Even(3)
	if len(got) != len(want) {
		t.Fatalf("got %d shards", len(got))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("shard %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestRoute(t *testing.T) {
	m, err := New(Even(3))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		pk, ehk string
		want    int
		wantErr bool
	}{
		{pk: "1", want: 2},
		{pk: "user-42", want: 1},
		{pk: "x", ehk: "0", want: 0},
		{pk: "x", ehk: "340282366920938463463374607431768211455", want: 2},
		{pk: "x", ehk: "340282366920938463463374607431768211456", wantErr: true},
		{pk: "x", ehk: "-1", wantErr: true},
		{pk: "x", ehk: "01", wantErr: true},
	}
	for _, tc := range tests {
		got, err := m.Route(tc.pk, tc.ehk)
		if (err != nil) != tc.wantErr {
			t.Errorf("Route(%q,%q) err = %v, wantErr %v", tc.pk, tc.ehk, err, tc.wantErr)
			continue
		}
		if !tc.wantErr && got != tc.want {
			t.Errorf("Route(%q,%q) = %d, want %d", tc.pk, tc.ehk, got, tc.want)
		}
	}
}
