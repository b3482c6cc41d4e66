// order-created: the Lambda handler in order-created.js, unchanged, as a consumer.
import { lambda } from '../sdk/js/switchyard.js';
import { handler } from './order-created.js';

export const handle = lambda.sqs(handler);
