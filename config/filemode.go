package config

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
)

// Files sluice writes that may hold personal data (the DuckDB warehouse
// file and its folder, export files) are private to the user sluice runs
// as: 0600 files in 0700 folders. file_mode: group widens that to the
// user's group (0640 and 0750), for a team sharing a service account's
// group; nothing is ever made readable by others.

// File modes accepted by file_mode.
const (
	FileModePrivate = "private"
	FileModeGroup   = "group"
)

// FileModes gives the permissions of files and folders for a file_mode
// setting ("" is private).
func FileModes(setting string) (file, dir fs.FileMode, err error) {
	switch setting {
	case "", FileModePrivate:
		return 0o600, 0o700, nil
	case FileModeGroup:
		return 0o640, 0o750, nil
	}
	return 0, 0, fmt.Errorf("invalid file_mode %q: must be private or group", setting)
}

// MkdirPrivate creates dir and its missing parents with mode, and tightens
// dir itself when it exists with looser permissions (created by an earlier
// version, say). Existing parents are left alone: they may be shared.
func MkdirPrivate(dir string, mode fs.FileMode) error {
	if err := os.MkdirAll(dir, mode); err != nil {
		return fmt.Errorf("creating folder %s: %w", dir, err)
	}
	return Tighten(dir, mode)
}

// Tighten removes the permission bits of path that mode does not grant,
// saying so in one log line, and does nothing when path does not exist.
// Bits mode grants that path lacks are not added.
func Tighten(path string, mode fs.FileMode) error {
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("checking permissions of %s: %w", path, err)
	}
	have := st.Mode().Perm()
	want := have & mode.Perm()
	if have == want {
		return nil
	}
	if err := os.Chmod(path, want|st.Mode()&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)); err != nil {
		return fmt.Errorf("restricting permissions of %s: %w", path, err)
	}
	slog.Warn("restricted the permissions of a file or folder that may hold personal data",
		"path", filepath.Clean(path), "was", fmt.Sprintf("%04o", have), "now", fmt.Sprintf("%04o", want))
	return nil
}

// OwnFolder tells whether folder lies strictly inside the project directory
// dir: a folder sluice may tighten. The project folder itself, or a folder
// elsewhere (written absolute), is the user's to set.
func OwnFolder(dir, folder string) bool {
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real
	}
	if real, err := filepath.EvalSymlinks(folder); err == nil {
		folder = real
	}
	rel, err := filepath.Rel(dir, folder)
	return err == nil && rel != "." && filepath.IsLocal(rel)
}
