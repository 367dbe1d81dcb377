package stream

// Sequence-number encoding; the layout and the ordering argument are in the
// package documentation ("Sequence numbers"). Keep the two in sync.

const (
	seqLen       = 56
	seqPrefix    = "49"
	seqStreamW   = 10
	seqShardW    = 8
	seqArrivalW  = 16
	seqCounterW  = 20
	seqStreamAt  = 2
	seqShardAt   = seqStreamAt + seqStreamW
	seqArrivalAt = seqShardAt + seqShardW
	seqCounterAt = seqArrivalAt + seqArrivalW
)

// seqFields are the parts of a sequence number.
type seqFields struct {
	stream  uint64
	shard   uint64
	arrival uint64 // unix ms
	counter uint64
}

// putDigits writes v as exactly len(b) zero-padded decimal digits. The
// caller guarantees v fits.
func putDigits(b []byte, v uint64) {
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = byte('0' + v%10)
		v /= 10
	}
}

// seqPrefixFor returns the first seqCounterAt bytes of every sequence number
// of one shard at one arrival time.
func seqPrefixFor(stream uint64, shard int, arrivalMs int64) [seqCounterAt]byte {
	var b [seqCounterAt]byte
	copy(b[:], seqPrefix)
	putDigits(b[seqStreamAt:seqShardAt], stream)
	putDigits(b[seqShardAt:seqArrivalAt], uint64(shard))
	putDigits(b[seqArrivalAt:seqCounterAt], uint64(max(arrivalMs, 0)))
	return b
}

// formatSeq renders a sequence number from a prefix and a counter.
func formatSeq(prefix *[seqCounterAt]byte, counter uint64) string {
	var b [seqLen]byte
	copy(b[:], prefix[:])
	putDigits(b[seqCounterAt:], counter)
	return string(b[:])
}

func encodeSeq(stream uint64, shard int, arrivalMs int64, counter uint64) string {
	p := seqPrefixFor(stream, shard, arrivalMs)
	return formatSeq(&p, counter)
}

// isSeqSyntax reports whether s matches the API model's pattern for a
// sequence number, 0|([1-9]\d{0,128}).
func isSeqSyntax(s string) bool {
	if s == "" || len(s) > 129 {
		return false
	}
	if s[0] == '0' {
		return len(s) == 1
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// parseSeq decodes one of our sequence numbers; ok is false for any other
// string.
func parseSeq(s string) (f seqFields, ok bool) {
	if len(s) != seqLen || s[:seqStreamAt] != seqPrefix {
		return f, false
	}
	num := func(part string) (uint64, bool) {
		var v uint64
		for i := 0; i < len(part); i++ {
			c := part[i]
			if c < '0' || c > '9' {
				return 0, false
			}
			d := uint64(c - '0')
			if v > (1<<64-1-d)/10 {
				return 0, false
			}
			v = v*10 + d
		}
		return v, true
	}
	var ok1, ok2, ok3, ok4 bool
	f.stream, ok1 = num(s[seqStreamAt:seqShardAt])
	f.shard, ok2 = num(s[seqShardAt:seqArrivalAt])
	f.arrival, ok3 = num(s[seqArrivalAt:seqCounterAt])
	f.counter, ok4 = num(s[seqCounterAt:])
	return f, ok1 && ok2 && ok3 && ok4
}
