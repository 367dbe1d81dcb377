package main

import (
	"bufio"
	"bytes"
	"cmp"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"github.com/streamproc/streamproc/kpl"
	"math/big"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/streamproc/streamproc/source/replay"
	"github.com/streamproc/streamproc/source/synthetic"
	"github.com/streamproc/streamproc/tweet"
)

type genFlags struct {
	file         string
	count        int
	shardID      string
	partitionKey string
	seed         int64
	fromStream   bool
	seqs         []string // the records' real sequence numbers, with --from-stream
}

func (m *Main) generateEventCmd(g *globalFlags) *cobra.Command {
	f := &genFlags{}
	cmd := &cobra.Command{
		Use:   "generate-event kinesis|firehose|schedule",
		Short: "Print a well-formed event for 'streamproc invoke -e'",
		Long: `Print an AWS-shaped event on stdout, like 'sam local generate-event'.

Records come from --file (one record per line: JSON tweets, or any bytes — use
it to test bad input; - reads stdin) or, without it, from the synthetic tweet
source. Kinesis events carry epoch-seconds timestamps with milliseconds and
56-digit sequence numbers; Firehose events carry epoch-millisecond timestamps
and the KinesisStreamAsSource record metadata.`,
		Example: `  streamproc generate-event kinesis --file tweets.jsonl > event.json
  streamproc generate-event firehose --count 10
  streamproc generate-event schedule`,
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{"kinesis", "firehose", "schedule"},
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := loadStack(g)
			if err != nil {
				return err
			}
			var ev any
			switch args[0] {
			case "kinesis", "firehose":
				var recs []eventRecord
				if f.fromStream {
					if f.file != "" {
						return usagef("--from-stream and --file exclude each other")
					}
					recs, f.seqs, err = m.streamRecords(cmd.Context(), g, f.shardID, f.count)
				} else {
					recs, err = m.eventRecords(f)
				}
				if err != nil {
					return err
				}
				if args[0] == "kinesis" {
					ev = m.kinesisEvent(st, f, recs)
				} else {
					ev = m.firehoseEvent(st, f, recs)
				}
			case "schedule":
				ev = m.scheduleEvent(st)
			default:
				return usagef("unknown event type %q; choose kinesis, firehose or schedule", args[0])
			}
			out, err := json.MarshalIndent(ev, "", "  ")
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(m.Stdout, string(out))
			return err
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.file, "file", "", "records, one per line (- for stdin); default: synthetic tweets")
	fl.IntVar(&f.count, "count", 3, "number of synthetic tweets when --file is not given")
	fl.Int64Var(&f.seed, "seed", 1, "seed of the synthetic tweets")
	fl.StringVar(&f.shardID, "shard-id", "shardId-000000000000", "shard the records come from")
	fl.BoolVar(&f.fromStream, "from-stream", false, "take the records from the local stream in --data-dir (oldest first, up to --count)")
	fl.StringVar(&f.partitionKey, "partition-key", "", "partition key of every record (default: the tweet author's handle)")
	return cmd
}

// eventRecord is one record's bytes and partition key, and its arrival in
// the stream when it came from one (zero: made up from now).
type eventRecord struct {
	data    []byte
	pk      string
	arrival time.Time
}

// arrivalAt is r's arrival time, or the i-th millisecond after now for a
// record that never was in a stream.
func (r eventRecord) arrivalAt(now time.Time, i int) time.Time {
	if !r.arrival.IsZero() {
		return r.arrival
	}
	return now.Add(time.Duration(i) * time.Millisecond)
}

func (m *Main) eventRecords(f *genFlags) ([]eventRecord, error) {
	var recs []eventRecord
	if f.file == "" {
		if f.count < 1 {
			return nil, usagef("--count must be at least 1")
		}
		src := synthetic.New(synthetic.Options{Seed: f.seed, Now: m.Now, DeleteRate: -1})
		for range f.count {
			t := src.Next()
			recs = append(recs, eventRecord{data: t.Raw, pk: t.ScreenName})
		}
	} else {
		raw, err := m.readFlagInput("--file", f.file, "give a JSON Lines file of tweets, a saved search response, or - for stdin")
		if err != nil {
			return nil, err
		}
		if doc := bytes.TrimSpace(raw); len(doc) > 0 && (doc[0] == '{' || doc[0] == '[') && json.Valid(doc) {
			// One JSON document — an API response saved with curl, a
			// timeline array, a pretty-printed tweet: split it as a replay
			// would, keeping every number (ids!) byte for byte.
			recs, err = docRecords(doc)
			if err != nil {
				return nil, fmt.Errorf("read %s: %w", f.file, err)
			}
		} else {
			recs, err = lineRecords(raw, f.file)
			if err != nil {
				return nil, err
			}
		}
		if len(recs) == 0 {
			return nil, usagef("%s holds no records (JSON Lines, or one JSON document such as a search response)", f.file)
		}
	}
	if f.partitionKey != "" {
		for i := range recs {
			recs[i].pk = f.partitionKey
		}
	}
	return recs, nil
}

func docRecords(doc []byte) ([]eventRecord, error) {
	ts, err := replay.Split(doc)
	if err != nil {
		return nil, err
	}
	recs := make([]eventRecord, len(ts))
	for i, t := range ts {
		pk := t.ScreenName
		if pk == "" {
			pk = partitionKeyOf(t.Raw)
		}
		recs[i] = eventRecord{data: t.Raw, pk: pk}
	}
	return recs, nil
}

// lineRecords takes each non-blank line as one record's bytes, as they are:
// garbage included, to exercise the dead-letter path.
func lineRecords(raw []byte, name string) ([]eventRecord, error) {
	var recs []eventRecord
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 1<<20), 10<<20)
	for sc.Scan() {
		line := bytes.TrimRight(sc.Bytes(), "\r")
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		recs = append(recs, eventRecord{data: bytes.Clone(line), pk: partitionKeyOf(line)})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return recs, nil
}

// partitionKeyOf picks the producer's partition key — the author's handle —
// falling back to a constant for bytes that are not a tweet.
func partitionKeyOf(data []byte) string {
	if msg, err := tweet.Decode(data); err == nil && len(msg.Tweets) > 0 {
		return msg.Tweets[0].User.ScreenName
	}
	return "unknown"
}

// sequenceNumbers returns n increasing 56-digit sequence numbers starting
// at a time-based base, the shape Kinesis uses.
func sequenceNumbers(now time.Time, n int) []string {
	base := new(big.Int).Exp(big.NewInt(10), big.NewInt(55), nil)
	base.Mul(base, big.NewInt(4))
	base.Add(base, new(big.Int).Mul(big.NewInt(now.UnixMilli()), new(big.Int).Exp(big.NewInt(10), big.NewInt(20), nil)))
	out := make([]string, n)
	for i := range out {
		out[i] = new(big.Int).Add(base, big.NewInt(int64(i)*1000003)).String()
	}
	return out
}

// epochSeconds marshals as seconds with millisecond precision: 1545084650.987.
type epochSeconds time.Time

func (t epochSeconds) MarshalJSON() ([]byte, error) {
	ms := time.Time(t).UnixMilli()
	return []byte(strconv.FormatInt(ms/1000, 10) + "." + fmt.Sprintf("%03d", ms%1000)), nil
}

func (m *Main) kinesisEvent(st stackDef, f *genFlags, recs []eventRecord) any {
	type kinesis struct {
		KinesisSchemaVersion        string       `json:"kinesisSchemaVersion"`
		PartitionKey                string       `json:"partitionKey"`
		SequenceNumber              string       `json:"sequenceNumber"`
		Data                        []byte       `json:"data"`
		ApproximateArrivalTimestamp epochSeconds `json:"approximateArrivalTimestamp"`
	}
	type record struct {
		Kinesis           kinesis `json:"kinesis"`
		EventSource       string  `json:"eventSource"`
		EventVersion      string  `json:"eventVersion"`
		EventID           string  `json:"eventID"`
		EventName         string  `json:"eventName"`
		InvokeIdentityArn string  `json:"invokeIdentityArn"`
		AwsRegion         string  `json:"awsRegion"`
		EventSourceARN    string  `json:"eventSourceARN"`
	}
	now := m.Now()
	seqs := f.seqs
	if seqs == nil {
		seqs = sequenceNumbers(now, len(recs))
	}
	out := make([]record, len(recs))
	for i, r := range recs {
		out[i] = record{
			Kinesis: kinesis{
				KinesisSchemaVersion: "1.0", PartitionKey: r.pk, SequenceNumber: seqs[i], Data: r.data,
				ApproximateArrivalTimestamp: epochSeconds(r.arrivalAt(now, i)),
			},
			EventSource: "aws:kinesis", EventVersion: "1.0", EventID: f.shardID + ":" + seqs[i], EventName: "aws:kinesis:record",
			InvokeIdentityArn: fmt.Sprintf("arn:aws:iam::%s:role/%s-DataStreamConsumerRole", localAccount, st.Name),
			AwsRegion:         localRegion, EventSourceARN: st.streamARN(),
		}
	}
	return map[string]any{"Records": out}
}

func (m *Main) firehoseEvent(st stackDef, f *genFlags, recs []eventRecord) any {
	type metadata struct {
		ShardID                     string `json:"shardId"`
		PartitionKey                string `json:"partitionKey"`
		ApproximateArrivalTimestamp int64  `json:"approximateArrivalTimestamp"`
		SequenceNumber              string `json:"sequenceNumber"`
		SubsequenceNumber           int64  `json:"subsequenceNumber"`
	}
	type record struct {
		RecordID                    string   `json:"recordId"`
		ApproximateArrivalTimestamp int64    `json:"approximateArrivalTimestamp"`
		Data                        []byte   `json:"data"`
		KinesisRecordMetadata       metadata `json:"kinesisRecordMetadata"`
	}
	now := m.Now()
	seqs := f.seqs
	if seqs == nil {
		seqs = sequenceNumbers(now, len(recs))
	}
	out := make([]record, 0, len(recs))
	for i, r := range recs {
		ms := r.arrivalAt(now, i).UnixMilli()
		// Firehose de-aggregates KPL records before the transformer sees
		// them: one record per user record, numbered by subsequence.
		users, aggregated, err := kpl.Deaggregate(r.data)
		if err != nil || !aggregated {
			users = []kpl.UserRecord{{Data: r.data, PartitionKey: r.pk}}
		}
		for j, u := range users {
			// Firehose record ids are opaque; this is the shape it uses
			// for a Kinesis source: sequence number, subsequence and shard.
			out = append(out, record{
				RecordID:                    seqs[i] + fmt.Sprintf("%06d", j) + "000000000" + strconv.Itoa(i),
				ApproximateArrivalTimestamp: ms,
				Data:                        u.Data,
				KinesisRecordMetadata: metadata{ShardID: f.shardID, PartitionKey: cmp.Or(u.PartitionKey, r.pk), ApproximateArrivalTimestamp: ms,
					SequenceNumber: seqs[i], SubsequenceNumber: int64(j)},
			})
		}
	}
	return map[string]any{
		"invocationId":           newUUID(),
		"deliveryStreamArn":      fmt.Sprintf("arn:aws:firehose:%s:%s:deliverystream/%s-FirehoseDeliveryStream", localRegion, localAccount, st.Name),
		"sourceKinesisStreamArn": st.streamARN(),
		"region":                 localRegion,
		"records":                out,
	}
}

func (m *Main) scheduleEvent(st stackDef) any {
	return map[string]any{
		"version":     "0",
		"id":          newUUID(),
		"detail-type": "Scheduled Event",
		"source":      "aws.events",
		"account":     localAccount,
		"time":        m.Now().UTC().Format(time.RFC3339),
		"region":      localRegion,
		"resources":   []string{fmt.Sprintf("arn:aws:events:%s:%s:rule/%s-DataStreamProducerSchedule", localRegion, localAccount, st.Name)},
		"detail":      map[string]any{},
	}
}

// newUUID returns a random version-4 UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
