// Command streamproc runs the stream-processing reference application on one
// machine: invoke its functions on embedded components, generate events,
// and look at the tables.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := (&Main{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.LookupEnv}).Run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}
