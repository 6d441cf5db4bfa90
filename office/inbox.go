package office

import (
	"context"

	"github.com/xszz/xszz/office/directory"
	"github.com/xszz/xszz/office/notice"
)

// Inbox is what awaits a person across the office's modules.
type Inbox struct {
	// UnreadNotices are notices not yet read or not yet confirmed where
	// confirmation is required (among the latest 50).
	UnreadNotices []notice.Item `json:"unread_notices"`
	// ActivitiesToSignIn are activities the person is invited to whose
	// sign-in is open and who has not signed in.
	ActivitiesToSignIn []inboxActivity `json:"activities_to_sign_in"`
	// Counts of the workflows: to act on at the person's unit (admins),
	// and their own items waiting on them.
	SubmissionsToReview    int `json:"submissions_to_review"`
	SubmissionsReturned    int `json:"submissions_returned"`
	ConsultationsToAnswer  int `json:"consultations_to_answer"`
	ConsultationsAskedBack int `json:"consultations_asked_back"`
	ComplaintsToHandle     int `json:"complaints_to_handle"`
	ComplaintsOverdue      int `json:"complaints_overdue"`
	// ComplaintsOverdueBelow are past a deadline at units directly
	// below the person's.
	ComplaintsOverdueBelow int `json:"complaints_overdue_below"`
}

type inboxActivity struct {
	ID    int64  `json:"id"`
	Title string `json:"title"`
}

// Total counts everything in the inbox.
func (in Inbox) Total() int {
	return len(in.UnreadNotices) + len(in.ActivitiesToSignIn) + in.SubmissionsToReview + in.SubmissionsReturned +
		in.ConsultationsToAnswer + in.ConsultationsAskedBack + in.ComplaintsToHandle + in.ComplaintsOverdueBelow
}

func (s *Service) inbox(ctx context.Context, v directory.Viewer) (Inbox, error) {
	in := Inbox{UnreadNotices: []notice.Item{}, ActivitiesToSignIn: []inboxActivity{}}
	items, err := s.notices.List(ctx, v, 0, 50)
	if err != nil {
		return in, err
	}
	for _, it := range items {
		if !it.Sent && (it.ReadAt == nil || (it.NeedConfirm && it.ConfirmedAt == nil)) {
			in.UnreadNotices = append(in.UnreadNotices, it)
		}
	}
	acts, err := s.acts.List(ctx, v, 0, 20)
	if err != nil {
		return in, err
	}
	now := s.d.Now()
	for _, a := range acts {
		if !a.Invited(v) || now.Before(a.SigninOpens) || !now.Before(a.SigninCloses) {
			continue
		}
		st, err := s.acts.Status(ctx, v, a.ID)
		if err != nil {
			return in, err
		}
		if st.CheckedInAt == nil {
			in.ActivitiesToSignIn = append(in.ActivitiesToSignIn, inboxActivity{ID: a.ID, Title: a.Title})
		}
	}
	if in.SubmissionsToReview, in.SubmissionsReturned, err = s.wf.subs.Pending(ctx, v); err != nil {
		return in, err
	}
	if in.ConsultationsToAnswer, in.ConsultationsAskedBack, err = s.wf.cons.Pending(ctx, v); err != nil {
		return in, err
	}
	if in.ComplaintsToHandle, in.ComplaintsOverdue, in.ComplaintsOverdueBelow, err = s.wf.comps.Pending(ctx, v); err != nil {
		return in, err
	}
	return in, nil
}
