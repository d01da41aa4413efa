package provision

import (
	"net/url"
	"strings"
)

// Saved is what Setup used for one app: the queue's region and the names,
// when not the guide's. A caller keeps it with the app so that Check,
// Teardown and later runs of Setup find the same resources without the
// names being given again.
type Saved struct {
	Region           string `json:"region,omitempty"`
	UserName         string `json:"userName,omitempty"`
	RoleName         string `json:"roleName,omitempty"`
	PolicyName       string `json:"policyName,omitempty"`
	InlinePolicyName string `json:"inlinePolicyName,omitempty"`
	QueueName        string `json:"queueName,omitempty"`
}

// Given says which of the Options a caller set explicitly (flags the user
// typed); Resume leaves those as they are.
type Given struct {
	Region, UserName, RoleName, PolicyName, InlinePolicyName, QueueName bool
}

// Resume returns o continued from an app's earlier setup: where not given,
// the names and region saved then, the role named by the app's role ARN,
// and the queue named by its queue URL (an app with a queue keeps it, so
// Queue is on).
func (o Options) Resume(prev Saved, roleARN, queueURL string, given Given) Options {
	for _, f := range []struct {
		given bool
		dst   *string
		saved string
	}{
		{given.UserName, &o.UserName, prev.UserName}, {given.RoleName, &o.RoleName, prev.RoleName},
		{given.PolicyName, &o.PolicyName, prev.PolicyName}, {given.InlinePolicyName, &o.InlinePolicyName, prev.InlinePolicyName},
		{given.QueueName, &o.QueueName, prev.QueueName}, {given.Region, &o.Region, prev.Region},
	} {
		if !f.given && f.saved != "" {
			*f.dst = f.saved
		}
	}
	if roleARN != "" && !given.RoleName {
		if n, err := ValidateRoleARN(roleARN); err == nil {
			o.RoleName = n
		}
	}
	if queueURL != "" && !o.Queue {
		o.Queue = true
		if !given.QueueName {
			if n := lastPathSegment(queueURL); n != "" {
				o.QueueName = n
			}
		}
	}
	return o
}

// Saved is what to keep with the app after Setup with o succeeded; region
// is the report's.
func (o Options) Saved(region string) Saved {
	s := Saved{Region: region, UserName: o.UserName, RoleName: o.RoleName, PolicyName: o.PolicyName, InlinePolicyName: o.InlinePolicyName}
	if o.Queue {
		s.QueueName = o.QueueName
	}
	return s
}

func lastPathSegment(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return ""
	}
	s := strings.Trim(p.Path, "/")
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		s = s[i+1:]
	}
	return s
}

// AppAWS is what an app keeps of its AWS chain: the IAM user's access key
// (its secret aside), the role it signs through, its notification queue, and
// whether it signs its calls.
type AppAWS struct {
	AccessKeyID string
	// HasSecretKey says the app holds a secret key (possibly without its
	// id, after an interrupted write).
	HasSecretKey bool
	RoleARN      string
	QueueURL     string
	Signing      bool
}

// AfterSetup returns a as a successful Setup leaves it, and whether that
// differs: the role ARN and, with queue, the queue URL from the report;
// signing turned on when asked (never off). The access key is the
// caller's: a new one is in r.NewAccessKey.
func (r *Report) AfterSetup(a AppAWS, queue, signing bool) (AppAWS, bool) {
	changed := false
	if r.RoleARN != "" && a.RoleARN != r.RoleARN {
		a.RoleARN, changed = r.RoleARN, true
	}
	if queue && r.QueueURL != "" && a.QueueURL != r.QueueURL {
		a.QueueURL, changed = r.QueueURL, true
	}
	if signing && !a.Signing {
		a.Signing, changed = true, true
	}
	return a, changed
}

// AfterTeardown returns a as a finished Teardown leaves it, and whether
// that differs: no access key (the user's keys are gone), no role ARN or,
// with queue, queue URL when they are the ones removed (or the report could
// not tell which), and no signing without a role.
func (r *Report) AfterTeardown(a AppAWS, queue bool) (AppAWS, bool) {
	changed := false
	if a.AccessKeyID != "" || a.HasSecretKey {
		a.AccessKeyID, a.HasSecretKey, changed = "", false, true
	}
	if a.RoleARN != "" && (r.RoleARN == "" || a.RoleARN == r.RoleARN) {
		a.RoleARN, changed = "", true
	}
	if queue && a.QueueURL != "" && (r.QueueURL == "" || a.QueueURL == r.QueueURL) {
		a.QueueURL, changed = "", true
	}
	if a.Signing && a.RoleARN == "" {
		a.Signing, changed = false, true
	}
	return a, changed
}

// AfterStep returns a without what step st of a Teardown deleted, and
// whether that differs: the key when it is a's, the role (and with it
// signing) when it is a's, and the queue (a's, or any when the step does
// not name it).
func (st Step) AfterStep(a AppAWS) (AppAWS, bool) {
	if st.Status != Deleted {
		return a, false
	}
	switch st.ID {
	case "access-key":
		if a.AccessKeyID != "" && a.AccessKeyID == st.Resource {
			a.AccessKeyID, a.HasSecretKey = "", false
			return a, true
		}
	case "role":
		if a.RoleARN != "" && a.RoleARN == st.Resource {
			a.RoleARN, a.Signing = "", false
			return a, true
		}
	case "queue":
		if a.QueueURL != "" && (st.Resource == "" || a.QueueURL == st.Resource) {
			a.QueueURL = ""
			return a, true
		}
	}
	return a, false
}

// KeyStored drops from Next the reminder to store the user's access key,
// for a caller that has stored it.
func (r *Report) KeyStored() {
	next := r.Next[:0:0]
	for _, n := range r.Next {
		if !strings.HasPrefix(n, "Store the user's access key") {
			next = append(next, n)
		}
	}
	r.Next = next
}
