package hashtag

import (
	"testing"
	"unicode/utf8"
)

// benchTweet is a full-length (~280 character) tweet with three hashtags, a
// link and a mention, mixing ASCII with accented and CJK text.
const benchTweet = "Just landed in Montréal for the summit 🎉 Three days of talks on stream " +
	"processing, back-pressure and exactly-once delivery. Slides will be at " +
	"https://example.com/talks/2024 — come say hi at booth 12! @streamproc " +
	"#StreamProcessing #データ処理 #Kinesis 今日はとても楽しかったです。See you there"

// benchPlain is the same length without any hashtag, the common case.
const benchPlain = "Just landed in Montréal for the summit 🎉 Three days of talks on stream " +
	"processing, back-pressure and exactly-once delivery. Slides will be at " +
	"https://example.com/talks/2024 — come say hi at booth 12! @streamproc " +
	"StreamProcessing, データ処理 and Kinesis. 今日はとても楽しかったです。See you there"

func TestBenchInputs(t *testing.T) {
	if n := utf8.RuneCountInString(benchTweet); n < 250 || n > 280 {
		t.Errorf("benchTweet has %d code points", n)
	}
	if got := Extract(benchTweet); !equalStrings(got, []string{"StreamProcessing", "データ処理", "Kinesis"}) {
		t.Errorf("Extract(benchTweet) = %q", got)
	}
	if got := Extract(benchPlain); got != nil {
		t.Errorf("Extract(benchPlain) = %q", got)
	}
}

func BenchmarkExtract(b *testing.B) {
	for _, bc := range []struct{ name, text string }{
		{"3tags", benchTweet},
		{"notags", benchPlain},
		{"urlfragment", "read https://example.com/docs/#setup before #launch"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(bc.text)))
			b.ReportAllocs()
			for b.Loop() {
				Extract(bc.text)
			}
		})
	}
}

func BenchmarkExtractWithIndices(b *testing.B) {
	for _, bc := range []struct{ name, text string }{
		{"3tags", benchTweet},
		{"notags", benchPlain},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(bc.text)))
			b.ReportAllocs()
			for b.Loop() {
				ExtractWithIndices(bc.text)
			}
		})
	}
}
