package main

import (
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/maildird/maildird/server/queue"
)

// cmdQueue shows and edits the outbound queue; it works while the server
// runs (the server re-reads the spool every few seconds).
func cmdQueue(configPath string, args []string, e env) error {
	if len(args) == 0 {
		return usagef("queue needs a subcommand: list, flush or delete")
	}
	sub, rest := args[0], args[1:]
	cfg, err := loadConfig(configPath)
	if err != nil {
		return err
	}
	spool, err := queue.OpenSpool(queueDir(cfg))
	if err != nil {
		return err
	}
	switch sub {
	case "list":
		if len(rest) > 0 {
			return usagef("queue list takes no arguments")
		}
		return queueList(spool, e)
	case "flush":
		if len(rest) > 0 {
			return usagef("queue flush takes no arguments")
		}
		ids, err := spool.IDs()
		if err != nil {
			return err
		}
		if err := spool.RequestFlush(); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "asked the server to retry %d queued message(s) now; a stopped server tries them when it starts\n", len(ids))
		return nil
	case "delete":
		if len(rest) != 1 {
			return usagef("queue delete takes one queue ID (see queue list)")
		}
		id := rest[0]
		if !queue.ValidID(id) {
			return fmt.Errorf("%q is not a queue ID (see queue list)", id)
		}
		if err := spool.Delete(id); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("no queued message %s", id)
			}
			return err
		}
		fmt.Fprintf(e.stdout, "deleted %s\n", id)
		return nil
	}
	return usagef("unknown queue subcommand %q", sub)
}

// queueList prints one block per message: ID, arrival, sender, then a
// line per recipient with its state and last reply.
func queueList(spool *queue.Spool, e env) error {
	envs, err := spool.List()
	for _, env := range envs {
		from := env.From
		if from == "" {
			from = "<>"
		}
		fmt.Fprintf(e.stdout, "%s  %s  from %s\n", env.ID, env.Created.Local().Format(time.DateTime), from)
		for _, r := range env.Rcpts {
			line := fmt.Sprintf("    %-32s %s", r.Addr, r.State)
			if r.Attempts > 0 {
				line += fmt.Sprintf(", %d attempt(s)", r.Attempts)
			}
			if r.State == queue.StatePending && !r.Next.IsZero() {
				line += ", next " + r.Next.Local().Format(time.DateTime)
			}
			if r.Reply != "" && r.State != queue.StateSent {
				line += ": " + r.Reply
			}
			fmt.Fprintln(e.stdout, line)
		}
	}
	if len(envs) == 0 {
		fmt.Fprintln(e.stdout, "the queue is empty")
	} else {
		fmt.Fprintf(e.stdout, "%d message(s) queued\n", len(envs))
	}
	return err
}
