// Command spgate is the credential and access layer for Amazon's Selling
// Partner API: setup, vault, doctor, rotation, gateway and an offline Amazon.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/spgate/spgate/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
