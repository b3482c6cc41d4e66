mod dynamodb;
mod template;
