package office

import (
	"context"
	"time"

	"github.com/xszz/xszz/office/complaint"
	"github.com/xszz/xszz/office/consultation"
	"github.com/xszz/xszz/office/directory"
	"github.com/xszz/xszz/office/submission"
)

// WorkflowConfig tunes the workflows of office part II (the keys
// office.consultation_quiet_period and office.complaint_*_within); zero
// values take the defaults.
type WorkflowConfig struct {
	// ConsultationQuiet: an answered question with no step for this long
	// closes itself (default 7 days).
	ConsultationQuiet time.Duration
	// Complaint deadlines per state (defaults: accept 2 days, start 3,
	// reply 15; calendar days).
	ComplaintDeadlines complaint.Deadlines
}

// workflows are the submissions, consultations and complaints.
type workflows struct {
	subs  *submission.Service
	cons  *consultation.Service
	comps *complaint.Service
}

func newWorkflows(cfg WorkflowConfig, d Deps, dir *directory.Store) *workflows {
	return &workflows{
		subs:  &submission.Service{DB: d.DB, Dir: dir, Now: d.Now},
		cons:  &consultation.Service{DB: d.DB, Dir: dir, Now: d.Now, Quiet: cfg.ConsultationQuiet},
		comps: &complaint.Service{DB: d.DB, Dir: dir, Now: d.Now, Deadlines: cfg.ComplaintDeadlines},
	}
}

// closeQuiet is Run's background step: answered consultations quiet for
// the configured period close themselves.
func (s *Service) closeQuiet(ctx context.Context) {
	n, err := s.wf.cons.CloseQuiet(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.d.Log.WarnContext(ctx, "closing quiet consultations failed", "err", err)
		}
		return
	}
	if n > 0 {
		s.d.Log.InfoContext(ctx, "quiet consultations closed", "count", n)
	}
}
