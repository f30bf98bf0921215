"""SQS queues with dead-letter queues, named as the application names them."""
from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from platform_infra.stages import DLQ_SUFFIX, MAX_RECEIVES, VISIBILITY_TIMEOUT_FACTOR


@dataclass(frozen=True)
class QueuePair:
    queue: sqs.Queue
    dlq: sqs.Queue


def queue_with_dlq(scope: Construct, construct_id: str, *, name: str, key: kms.IKey,
                   consumer_timeout_seconds: int) -> QueuePair:
    """``name`` and ``name-dlq``, both KMS-encrypted and TLS-only.

    The visibility timeout is six times the consumer's timeout (AWS's guidance for
    Lambda event sources), and a message is moved to the DLQ after MAX_RECEIVES receives.
    """
    dlq = sqs.Queue(
        scope, f"{construct_id}Dlq",
        queue_name=name + DLQ_SUFFIX,
        encryption=sqs.QueueEncryption.KMS,
        encryption_master_key=key,
        data_key_reuse=Duration.hours(1),
        enforce_ssl=True,
        retention_period=Duration.days(14),
    )
    queue = sqs.Queue(
        scope, construct_id,
        queue_name=name,
        encryption=sqs.QueueEncryption.KMS,
        encryption_master_key=key,
        data_key_reuse=Duration.hours(1),
        enforce_ssl=True,
        visibility_timeout=Duration.seconds(VISIBILITY_TIMEOUT_FACTOR * consumer_timeout_seconds),
        retention_period=Duration.days(4),
        dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=MAX_RECEIVES),
    )
    return QueuePair(queue, dlq)
