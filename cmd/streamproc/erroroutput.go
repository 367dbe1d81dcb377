package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/streamproc/streamproc/function/transformer"
	"github.com/streamproc/streamproc/local/logs"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/streamproc/streamproc/local/firehose"
	"github.com/streamproc/streamproc/query"
)

// errorOutputLetter is one record of a delivery stream's error output
// (processing-failed or format-conversion-failed), printed by dlq next to
// the dead letters: where it is, what Firehose says about it, its bytes.
type errorOutputLetter struct {
	Time     time.Time `json:"time"`
	Function string    `json:"function,omitempty"`
	Reason   string    `json:"reason"`
	// Object is the error-output object's key in the bucket.
	Object         string `json:"object"`
	SequenceNumber string `json:"sequenceNumber,omitempty"`
	Data           []byte `json:"data"`
}

// printErrorOutput writes every record under the bucket's error-output
// prefixes, oldest object first, as JSON lines. The bucket is a plain
// directory, readable while up runs. function names the transformer the
// processing failures belong to.
func printErrorOutput(ctx context.Context, w io.Writer, bucketDir string, prefixes []string, function string, reasons map[string]string) error {
	enc := json.NewEncoder(w)
	seen := map[string]bool{} // prefixes may nest (errors/ and errors/x/)
	for _, prefix := range prefixes {
		if prefix == "" {
			continue // never the whole bucket
		}
		var keys []string
		root := filepath.Join(bucketDir, filepath.FromSlash(prefix))
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil
				}
				return err
			}
			if !d.IsDir() && !seen[p] && query.IsObject(d.Name()) {
				seen[p] = true
				keys = append(keys, p)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("error output: %w", err)
		}
		// Keys hold the date path and end in the delivery time: in order.
		sort.Strings(keys)
		for _, p := range keys {
			if err := ctx.Err(); err != nil {
				return err
			}
			key, _ := filepath.Rel(bucketDir, p)
			if err := eachLine(p, func(line []byte) error {
				l, err := firehose.ParseErrorOutputLine(filepath.ToSlash(key), line)
				if err != nil {
					return fmt.Errorf("error output %s: %w", key, err)
				}
				letter := errorOutputLetter{Time: l.AttemptEndingTimestamp, Object: filepath.ToSlash(key), SequenceNumber: l.SequenceNumber, Data: l.RawData}
				if l.Type == firehose.ErrorOutputTypeFormatConversionFailed {
					letter.Reason = "format conversion failed: " + l.Code + ": " + l.Message
				} else {
					letter.Function = function
					if why, ok := reasons[transformer.Fingerprint(l.RawData)]; ok {
						letter.Reason = "processing failed: " + why
					} else {
						letter.Reason = "processing failed: " + l.Code
						if l.Message != "" {
							letter.Reason += ": " + l.Message
						}
						letter.Reason += " (why: streamproc logs transformer)"
					}
				}
				return enc.Encode(letter)
			}); err != nil {
				return err
			}
		}
	}
	return nil
}

// eachLine calls fn with every non-empty line of the object at path,
// gunzipping it when it is gzip.
func eachLine(path string, fn func([]byte) error) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("error output: %w", err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 64<<10)
	var r io.Reader = br
	if magic, _ := br.Peek(2); bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("error output %s: %w", path, err)
		}
		defer zr.Close()
		r = zr
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 8<<20)
	for sc.Scan() {
		if line := bytes.TrimSpace(sc.Bytes()); len(line) > 0 {
			if err := fn(line); err != nil {
				return err
			}
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("error output %s: %w", path, err)
	}
	return nil
}

// failureReasons reads function's log files under dir for the records it
// failed: record fingerprint → reason. The error output's envelope holds
// only Firehose's generic code; the transformer logged the real reason.
func failureReasons(dir, function string) map[string]string {
	out := map[string]string{}
	files, err := logs.Files(dir, function)
	if err != nil {
		return out
	}
	for _, f := range files {
		_ = eachLine(f, func(line []byte) error {
			if !bytes.Contains(line, []byte(transformer.MsgFailed)) {
				return nil
			}
			var l struct {
				Msg    string `json:"msg"`
				Reason string `json:"reason"`
				Data   string `json:"data"`
			}
			if json.Unmarshal(line, &l) == nil && l.Msg == transformer.MsgFailed && l.Data != "" {
				out[l.Data] = l.Reason
			}
			return nil
		})
	}
	return out
}
