//go:build !linux

package procsec

func noDump() error { return nil }

func dumpable() (bool, error) { return false, ErrUnsupported }
