// Package shardmap routes records to shards the way Kinesis does: MD5 of the
// partition key (or an explicit hash key) read as an unsigned 128-bit integer,
// matched against each shard's inclusive hash-key range.
package shardmap

import (
	"crypto/md5"
	"fmt"
	"math/big"
	"regexp"

	"github.com/streamproc/streamproc"
)

// maxHashKey is 2^128 - 1, the top of the Kinesis hash-key space.
var maxHashKey = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 128), big.NewInt(1))

var explicitHashKeyRE = regexp.MustCompile(`^(0|[1-9][0-9]{0,38})$`)

// ShardID formats a shard index as Kinesis does: shardId-000000000007.
func ShardID(i int) string { return fmt.Sprintf("shardId-%012d", i) }

// Even splits the hash-key space over n shards exactly as CreateStream does:
// w = floor(2^128/n); shard i owns [w*i, w*(i+1)-1]; the last shard ends at
// 2^128-1.
func Even(n int) []streamproc.Shard {
	if n < 1 {
		return nil
	}
	space := new(big.Int).Lsh(big.NewInt(1), 128)
	w := new(big.Int).Div(space, big.NewInt(int64(n)))
	shards := make([]streamproc.Shard, n)
	for i := range n {
		start := new(big.Int).Mul(w, big.NewInt(int64(i)))
		end := new(big.Int).Sub(new(big.Int).Add(start, w), big.NewInt(1))
		if i == n-1 {
			end = maxHashKey
		}
		shards[i] = streamproc.Shard{ID: ShardID(i), StartingHashKey: start.String(), EndingHashKey: end.String()}
	}
	return shards
}

// HashKey is MD5(partitionKey) as an unsigned big-endian 128-bit integer.
func HashKey(partitionKey string) *big.Int {
	sum := md5.Sum([]byte(partitionKey))
	return new(big.Int).SetBytes(sum[:])
}

// ParseExplicitHashKey validates an ExplicitHashKey (decimal, 0..2^128-1).
func ParseExplicitHashKey(s string) (*big.Int, error) {
	if !explicitHashKeyRE.MatchString(s) {
		return nil, fmt.Errorf("explicit hash key %q is not a decimal integer: %w", s, streamproc.ErrInvalid)
	}
	v, _ := new(big.Int).SetString(s, 10)
	if v.Cmp(maxHashKey) > 0 {
		return nil, fmt.Errorf("explicit hash key %s is above 2^128-1: %w", s, streamproc.ErrInvalid)
	}
	return v, nil
}

// Map is a parsed set of shards for fast repeated routing.
type Map struct {
	shards []streamproc.Shard
	starts []*big.Int
	ends   []*big.Int
}

// New parses the shards' hash ranges.
func New(shards []streamproc.Shard) (*Map, error) {
	m := &Map{shards: shards}
	for _, s := range shards {
		a, ok1 := new(big.Int).SetString(s.StartingHashKey, 10)
		b, ok2 := new(big.Int).SetString(s.EndingHashKey, 10)
		if !ok1 || !ok2 || a.Cmp(b) > 0 {
			return nil, fmt.Errorf("shard %s has a bad hash-key range [%s, %s]: %w", s.ID, s.StartingHashKey, s.EndingHashKey, streamproc.ErrInvalid)
		}
		m.starts = append(m.starts, a)
		m.ends = append(m.ends, b)
	}
	return m, nil
}

// Shards returns the shards the map was built from.
func (m *Map) Shards() []streamproc.Shard { return m.shards }

// Lookup returns the index of the shard owning hash.
func (m *Map) Lookup(hash *big.Int) (int, error) {
	for i := range m.shards {
		if hash.Cmp(m.starts[i]) >= 0 && hash.Cmp(m.ends[i]) <= 0 {
			return i, nil
		}
	}
	return -1, fmt.Errorf("no open shard owns hash key %s: %w", hash, streamproc.ErrInvalid)
}

// Route returns the index of the shard a record goes to.
func (m *Map) Route(partitionKey, explicitHashKey string) (int, error) {
	if explicitHashKey != "" {
		h, err := ParseExplicitHashKey(explicitHashKey)
		if err != nil {
			return -1, err
		}
		return m.Lookup(h)
	}
	return m.Lookup(HashKey(partitionKey))
}
