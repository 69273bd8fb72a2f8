package node

import (
	"context"
	"log/slog"

	"github.com/classboard/classboard/mail"
)

// linkBase is where links in mail point: the apps' URL when one is
// configured, else the first public API origin (every node serves the
// apps), else this node. Never a request's Host header, which the sender
// of the request chooses.
func linkBase(cfg Config, self string) string {
	switch {
	case cfg.UIURL != "":
		return cfg.UIURL
	case len(cfg.PublicURLs) > 0:
		return cfg.PublicURLs[0]
	}
	return self
}

// startMail runs this node's mail workers until ctx ends.
func (n *Node) startMail(ctx context.Context, sender mail.Sender) {
	if n.cfg.Mail.Addr == "" {
		n.log.Warn("no SMTP server configured (--smtp-addr): mail, password reset links included, is written to this log, " +
			"and sign-ups are active at once instead of confirmed by mail (their answer tells whether an address has an account)")
	} else {
		n.log.Info("mail goes through SMTP", "smtp_addr", n.cfg.Mail.Addr, "from", n.cfg.Mail.From)
	}
	n.mail = mail.NewWorker(n.cfg.Mail, n.store.Outbox(), sender, n.log.With(slog.String("part", "mail")))
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		n.mail.Run(ctx)
	}()
}

// Mail returns the node's mail worker (tests read its counters).
func (n *Node) Mail() *mail.Worker { return n.mail }
