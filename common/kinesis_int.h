/*
 * Private to the Kinesis client (kinesis.c, kinesis_admin.c): the client and the
 * argument checks and call path both files use.
 */
#ifndef KLS_KINESIS_INT_H
#define KLS_KINESIS_INT_H

#include <json-c/json.h>

#include "common/awsjson.h"
#include "common/kinesis.h"

struct kinesis_client {
	struct awsj_client j;
};

/* 0, or -1 with err (InvalidArgument) naming call and the bad value. */
int kin_check_stream(const char *call, const char *stream, struct aws_error *err);
int kin_check_shard(const char *call, const char *stream, const char *shard,
    struct aws_error *err);
bool kin_valid_hash_key(const char *s);
/* {"StreamName": stream}, NULL when out of memory. */
json_object *kin_new_stream_request(const char *stream);
/* Fills err (NoMemory) and returns -1. */
int kin_no_memory(struct aws_error *err, const char *call, const char *target);

#endif
