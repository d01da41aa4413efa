package demo

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/spgate/spgate/amazontest"
	"github.com/spgate/spgate/provision"
	"github.com/spgate/spgate/secret"
)

// SQSKeys are the keys the emulator signs its SQS calls with: the
// environment's AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, else moto's
// and LocalStack's "testing".
func SQSKeys() (string, secret.String) {
	id, key := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
	if id == "" || key == "" {
		return "testing", secret.New("testing")
	}
	return id, secret.New(key)
}

// NotificationQueue creates (or finds) the queue name at cfg.SQSEndpoint,
// signed with cfg's SQS keys, gives it setup's policy admitting Amazon's
// account, and returns its URL: where the emulator sends the demo app's
// rotation notifications (Server.SetNotificationQueue).
func NotificationQueue(ctx context.Context, cfg amazontest.Config, name string) (string, error) {
	c := sqs.NewFromConfig(aws.Config{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(cfg.SQSEndpoint),
		Credentials:  credentials.NewStaticCredentialsProvider(cfg.SQSAccessKeyID, cfg.SQSSecretAccessKey.Reveal(), ""),
		HTTPClient:   &http.Client{Timeout: 15 * time.Second},
	})
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	fail := func(doing string, err error) error {
		return fmt.Errorf("%s at --sqs-endpoint %s: %w (is moto_server or LocalStack running there? the keys are AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, else \"testing\")", doing, cfg.SQSEndpoint, err)
	}
	out, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name)})
	if err != nil {
		return "", fail("create the demo app's notification queue "+name, err)
	}
	attrs, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: out.QueueUrl,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn, sqstypes.QueueAttributeNamePolicy}})
	if err != nil {
		return "", fail("read queue "+name, err)
	}
	arn := attrs.Attributes[string(sqstypes.QueueAttributeNameQueueArn)]
	policy, same, _, err := provision.MergeQueuePolicy(attrs.Attributes[string(sqstypes.QueueAttributeNamePolicy)], arn)
	if err != nil {
		return "", fmt.Errorf("queue %s: %w", name, err)
	}
	if !same {
		if _, err := c.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: out.QueueUrl,
			Attributes: map[string]string{string(sqstypes.QueueAttributeNamePolicy): policy}}); err != nil {
			return "", fail("set the policy of queue "+name, err)
		}
	}
	return aws.ToString(out.QueueUrl), nil
}
