/*
 * Private to the DynamoDB client (dynamodb.c, dynamodb_value.c, dynamodb_write.c).
 */
#ifndef KLS_DYNAMODB_INT_H
#define KLS_DYNAMODB_INT_H

#include <json-c/json.h>

#include "common/awsjson.h"
#include "common/dynamodb.h"

struct ddb_client {
	struct awsj_client j;
};

bool ddbi_valid_table(const char *s);
bool ddbi_valid_attr_name(const char *s);
/* The wire form of v ({"S": ...}), or NULL with why filled. */
json_object *ddbi_value_json(struct ddb_value v, char *why, size_t whysize);
/* A short printable form of a key value, for error messages. */
void ddbi_describe_value(struct ddb_value v, char *out, size_t size);
int ddbi_list_push(struct ddb_item_list *l, struct ddb_item it, struct aws_error *err);
/* {"TableName": table}, NULL when out of memory. */
json_object *ddbi_table_request(const char *table);
/* 0, or -1 with err (InvalidArgument) naming call and the bad name. */
int ddbi_check_table(const char *call, const char *table, struct aws_error *err);
/* Adds v (owned) / a new reference to v to obj under key; -1 when out of memory. */
int ddbi_add_obj(json_object *obj, const char *key, json_object *v);
int ddbi_add_ref(json_object *obj, const char *key, json_object *v);

#endif
