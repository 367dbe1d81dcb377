package firehose

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/google/uuid"
	"gocloud.dev/blob"
)

// objectBuffer collects the bytes of one future object: the data output or
// one of the error outputs.
type objectBuffer struct {
	// errorType is the !{firehose:error-output-type} of an error output;
	// "" for the data output.
	errorType string
	buf       bytes.Buffer
	// rows are the converted records of a data output with format
	// conversion (buf stays empty); size counts their bytes before
	// conversion, against BufferSize.
	rows []map[string]any
	size int64
	// refs names the Kinesis record of every user record in buf (one entry
	// per user record), to acknowledge once the object is written.
	refs    []*kinesisRec
	records int
	oldest  time.Time // arrival of the oldest record: the object's timestamp
	started time.Time // Options.Now when the first record entered
}

// add appends one record's bytes (plus '\n' when delim) to ob. Like the
// processor buffer, an object is written when the next record would take it
// past BufferSize (measured before compression) or when it reaches it; the
// interval is checked by deliverDue.
func (d *DeliveryStream) add(ctx context.Context, ob *objectBuffer, k *kinesisRec, payload []byte, delim bool) error {
	n := int64(len(payload))
	if delim {
		n++
	}
	return d.addRecord(ctx, ob, k, n, func() {
		ob.buf.Write(payload)
		if delim {
			ob.buf.WriteByte('\n')
		}
	})
}

// addRows is add for a converted record: its rows, and n, its size before
// conversion.
func (d *DeliveryStream) addRows(ctx context.Context, ob *objectBuffer, k *kinesisRec, rows []map[string]any, n int64) error {
	return d.addRecord(ctx, ob, k, n, func() { ob.rows = append(ob.rows, rows...) })
}

// addRecord puts one record of n bytes into ob with put, delivering ob
// first when the record would take it past BufferSize and after when it
// reaches it.
func (d *DeliveryStream) addRecord(ctx context.Context, ob *objectBuffer, k *kinesisRec, n int64, put func()) error {
	if ob.records > 0 && ob.size+n > d.cfg.BufferSize {
		if err := d.deliver(ctx, ob); err != nil {
			return err
		}
	}
	if ob.records == 0 {
		ob.started, ob.oldest = d.now(), k.arrival
	} else if k.arrival.Before(ob.oldest) {
		// Shards interleave, so the first record is not always the oldest.
		ob.oldest = k.arrival
	}
	put()
	ob.size += n
	ob.refs = append(ob.refs, k)
	ob.records++
	if ob.size >= d.cfg.BufferSize {
		return d.deliver(ctx, ob)
	}
	return nil
}

// deliver writes ob as one object, retrying failed writes with backoff until
// ctx ends, then acknowledges its records and checkpoints.
//
// Invariant: records are acknowledged (kinesisRec.left decremented) only
// after putObject returned nil, i.e. after the object is durably in the
// bucket. On failure ob is left intact, so a later flush writes it again.
func (d *DeliveryStream) deliver(ctx context.Context, ob *objectBuffer) error {
	if ob.records == 0 {
		return nil
	}
	t := ob.oldest.In(d.cfg.CustomTimeZone)
	prefix, err := d.cfg.KeyPrefix(t, ob.errorType, d.opts.Rand)
	if err != nil {
		return fmt.Errorf("firehose %s: object key: %w", d.cfg.Name, err)
	}
	id, err := uuid.NewRandomFromReader(d.opts.Rand)
	if err != nil {
		return fmt.Errorf("firehose %s: object id: %w", d.cfg.Name, err)
	}
	// The key is fixed before the first attempt, so a retry replaces a
	// partial write instead of adding a second object.
	ext := d.cfg.FileExtension
	if ob.errorType != "" && d.conv != nil {
		// Error records are JSON lines, not Parquet; AWS writes them
		// without an extension.
		ext = ""
	}
	key := prefix + objectName(&d.cfg, t, id, ext)
	raw := int(ob.size)
	// An object of zero bytes (Ok records with empty data and no
	// delimiter) has nothing to deliver; its records are still done.
	if raw > 0 {
		body := ob.buf.Bytes()
		if ob.errorType == "" && d.conv != nil {
			if body, err = d.conv.encode(ob.rows); err != nil {
				return fmt.Errorf("firehose %s: convert %s: %w", d.cfg.Name, key, err)
			}
		}
		if d.cfg.Compression == GZIP {
			if body, err = gzipBytes(body); err != nil {
				return fmt.Errorf("firehose %s: compress %s: %w", d.cfg.Name, key, err)
			}
		}
		for attempt := 0; ; attempt++ {
			err := d.putObject(ctx, key, body)
			if err == nil {
				d.metric(MetricDeliverySuccess, 1)
				break
			}
			d.metric(MetricDeliverySuccess, 0)
			if ctx.Err() != nil {
				return fmt.Errorf("firehose %s: write %s: %w", d.cfg.Name, key, errors.Join(ctx.Err(), err))
			}
			d.log.Warn("object write failed; retrying", "key", key, "attempt", attempt+1, "err", err)
			if werr := d.opts.Retry.Wait(ctx, attempt, 0); werr != nil {
				return fmt.Errorf("firehose %s: write %s: %w", d.cfg.Name, key, errors.Join(werr, err))
			}
		}
	}
	for _, k := range ob.refs {
		k.left--
	}
	records := ob.records
	if ob.errorType != "" {
		d.count(func(s *Stats) { s.ErrorObjects++ })
	} else {
		d.count(func(s *Stats) { s.Objects++; s.ObjectRecords += int64(records); s.ObjectBytes += int64(raw) })
		d.metric(MetricDeliveryRecords, float64(records))
		d.metric(MetricDeliveryBytes, float64(raw))
	}
	if ob.errorType == ErrorOutputTypeFormatConversionFailed {
		d.log.Warn("records did not convert to the schema; their error records are in the format-conversion-failed output", "key", key, "records", records)
	} else {
		d.log.Info("object delivered", "key", key, "records", records, "bytes", raw, "errorOutput", ob.errorType)
	}
	clear(ob.refs)
	ob.refs, ob.records, ob.size = ob.refs[:0], 0, 0
	clear(ob.rows)
	ob.rows = ob.rows[:0]
	ob.buf.Reset()
	if err := d.commit(); err != nil {
		return err
	}
	d.metric(MetricDataFreshness, d.Stats().DataFreshness.Seconds())
	return nil
}

// putObject writes one object and returns only once it is durable.
//
// fileblob writes a temp file and renames it into place on Close, without
// fsync. BeforeWrite hands us that temp file, which is fsynced before Close
// renames it; with Options.BucketDir the directories are fsynced after the
// rename (new date directories included). Other drivers (s3blob) do not
// match the *os.File and are durable when Close returns.
func (d *DeliveryStream) putObject(ctx context.Context, key string, body []byte) error {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var f *os.File
	w, err := d.bucket.NewWriter(wctx, key, &blob.WriterOptions{
		ContentType: "application/octet-stream",
		BeforeWrite: func(as func(any) bool) error {
			as(&f)
			return nil
		},
	})
	if err != nil {
		return fmt.Errorf("open object %s: %w", key, err)
	}
	_, err = w.Write(body)
	if err == nil && f != nil {
		err = d.syncFile(f)
	}
	if err != nil {
		cancel() // makes Close discard the temp file instead of publishing it
		_ = w.Close()
		return fmt.Errorf("write object %s: %w", key, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("close object %s: %w", key, err)
	}
	if d.opts.BucketDir != "" {
		if err := syncParents(d.opts.BucketDir, key); err != nil {
			return err
		}
	}
	return nil
}

// syncParents fsyncs every directory from key's parent up to root.
func syncParents(root, key string) error {
	root = filepath.Clean(root)
	dir := filepath.Dir(filepath.Join(root, filepath.FromSlash(key)))
	for {
		if err := syncDir(dir); err != nil {
			return err
		}
		if dir == root || len(dir) <= len(root) {
			return nil
		}
		dir = filepath.Dir(dir)
	}
}

func gzipBytes(b []byte) ([]byte, error) {
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	if _, err := zw.Write(b); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}
