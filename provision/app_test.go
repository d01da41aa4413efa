package provision

import "testing"

// TestResume: an app's earlier setup fills what the caller did not give;
// the role ARN and queue URL it points at win over saved names.
func TestResume(t *testing.T) {
	prev := Saved{Region: "eu-west-1", UserName: "u1", RoleName: "r1", QueueName: "q1"}
	o := Options{UserName: DefaultUserName, RoleName: "given", QueueName: DefaultQueueName}
	got := o.Resume(prev, "arn:aws:iam::123456789012:role/fromarn", "https://sqs.eu-west-1.amazonaws.com/123456789012/fromurl", Given{RoleName: true})
	if got.UserName != "u1" || got.RoleName != "given" || got.Region != "eu-west-1" || !got.Queue || got.QueueName != "fromurl" {
		t.Errorf("Resume = %+v", got)
	}
	got = o.Resume(prev, "arn:aws:iam::123456789012:role/fromarn", "", Given{})
	if got.RoleName != "fromarn" || got.Queue || got.QueueName != "q1" {
		t.Errorf("Resume without a queue URL = %+v", got)
	}
	if s := got.Saved("us-east-1"); s.QueueName != "" || s.Region != "us-east-1" || s.RoleName != "fromarn" {
		t.Errorf("Saved without a queue = %+v", s)
	}
}

// TestAfterTeardown: the removed role and queue and every key are
// forgotten, a role the teardown did not remove is kept.
func TestAfterTeardown(t *testing.T) {
	r := &Report{RoleARN: "arn:role/a", QueueURL: "https://q/a"}
	a := AppAWS{AccessKeyID: "AKIA", HasSecretKey: true, RoleARN: "arn:role/b", QueueURL: "https://q/a", Signing: true}
	got, changed := r.AfterTeardown(a, true)
	if !changed || got != (AppAWS{RoleARN: "arn:role/b", Signing: true}) {
		t.Errorf("AfterTeardown = %+v, %v", got, changed)
	}
	if _, changed := r.AfterTeardown(AppAWS{}, true); changed {
		t.Error("AfterTeardown changed an app with nothing of AWS")
	}
	st := Step{ID: "role", Status: Deleted, Resource: "arn:role/b"}
	if got, changed := st.AfterStep(a); !changed || got.RoleARN != "" || got.Signing {
		t.Errorf("AfterStep(role) = %+v, %v", got, changed)
	}
	st.Status = WouldDelete
	if _, changed := st.AfterStep(a); changed {
		t.Error("AfterStep changed the app for a step that deleted nothing")
	}
}
