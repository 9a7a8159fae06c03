package media

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// tempPrefix starts the names of files being written; a crash leaves them
// behind, NewFileBlobs removes them, Keys never lists them (keys never start
// with a dot).
const tempPrefix = ".put-"

// FileBlobs is a BlobStore in a directory: each blob is the file at its key
// (keys.go makes keys safe relative paths), e.g. dir/local/<media ID>.
//
// Put writes a temporary file beside the target, fsyncs it, renames it into
// place and fsyncs the directory: the blob is there whole or not at all, and
// durable when Put returns. Delete does not fsync: a blob that reappears
// after a crash has no row, and Store.Sweep removes it.
type FileBlobs struct {
	dir string
}

var _ BlobStore = (*FileBlobs)(nil)

// NewFileBlobs opens (creating it if needed) the store in dir and removes
// the temporary files of Puts a crash interrupted. Call it before anything
// else uses dir.
func NewFileBlobs(dir string) (*FileBlobs, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create blob directory: %w", err)
	}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasPrefix(d.Name(), tempPrefix) {
			return os.Remove(path)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("remove unfinished blobs: %w", err)
	}
	return &FileBlobs{dir: dir}, nil
}

func (f *FileBlobs) path(key string) (string, error) {
	if !ValidKey(key) {
		return "", fmt.Errorf("%w: %q", ErrBadKey, key)
	}
	return filepath.Join(f.dir, filepath.FromSlash(key)), nil
}

func (f *FileBlobs) Put(_ context.Context, key string, r io.Reader, _ int64) (int64, error) {
	path, err := f.path(key)
	if err != nil {
		return 0, fmt.Errorf("put blob: %w", err)
	}
	n, err := f.put(path, r)
	if err != nil {
		return 0, fmt.Errorf("put blob %s: %w", key, classifyDiskError(err))
	}
	return n, nil
}

func (f *FileBlobs) put(path string, r io.Reader) (n int64, err error) {
	dir := filepath.Dir(path)
	if err := f.makeDirDurably(dir); err != nil {
		return 0, err
	}
	tmp, err := os.CreateTemp(dir, tempPrefix+"*")
	if err != nil {
		return 0, err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	// io.Copy streams through a 32 KiB buffer: the body is never whole in memory.
	if n, err = io.Copy(tmp, r); err != nil {
		return 0, err
	}
	if err = tmp.Sync(); err != nil {
		return 0, err
	}
	if err = tmp.Close(); err != nil {
		return 0, err
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return 0, err
	}
	return n, syncDir(dir)
}

// makeDirDurably creates dir (and its parents up to the store's root) if
// missing, fsyncing each parent so the new entry survives a crash.
func (f *FileBlobs) makeDirDurably(dir string) error {
	if dir == f.dir {
		return nil
	}
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	parent := filepath.Dir(dir)
	if err := f.makeDirDurably(parent); err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return syncDir(parent)
}

func (f *FileBlobs) Get(_ context.Context, key string) ([]byte, error) {
	path, err := f.path(key)
	if err != nil {
		return nil, fmt.Errorf("get blob: %w", err)
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("get blob %s: %w", key, ErrNoBlob)
	}
	if err != nil {
		return nil, fmt.Errorf("get blob %s: %w", key, err)
	}
	return b, nil
}

func (f *FileBlobs) Delete(_ context.Context, key string) error {
	path, err := f.path(key)
	if err != nil {
		return fmt.Errorf("delete blob: %w", err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete blob %s: %w", key, err)
	}
	return nil
}

func (f *FileBlobs) Keys(_ context.Context, prefix string) ([]string, error) {
	if !validPrefix(prefix) {
		return nil, fmt.Errorf("%w: prefix %q", ErrBadKey, prefix)
	}
	var keys []string
	err := filepath.WalkDir(filepath.Join(f.dir, filepath.FromSlash(prefix)), func(path string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) && path == filepath.Join(f.dir, filepath.FromSlash(prefix)) {
			return fs.SkipAll // nothing stored under prefix yet
		}
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(f.dir, path)
		if err != nil {
			return err
		}
		if key := filepath.ToSlash(rel); ValidKey(key) {
			keys = append(keys, key)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list blobs: %w", err)
	}
	return keys, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// classifyDiskError marks a full disk or exhausted disk quota as ErrStoreFull.
func classifyDiskError(err error) error {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return fmt.Errorf("%w: %w", ErrStoreFull, err)
	}
	return err
}
