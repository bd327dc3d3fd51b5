package maildir

// liveSet tracks the mailboxes this process has open, so a change made
// through one Mailbox reaches every other view of the same folder at once.
// The mailbox half of the package fills it in.
type liveSet struct{}

func newLiveSet() *liveSet { return &liveSet{} }
