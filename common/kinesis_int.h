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
int kin_check_shard(const char *call, const char *stream, const char *shard, struct aws_error *err);
bool kin_valid_hash_key(const char *s);
/* {"StreamName": stream}, NULL when out of memory. */
json_object *kin_new_stream_request(const char *stream);
/* Fills err (NoMemory) and returns -1. */
int kin_no_memory(struct aws_error *err, const char *call, const char *target);

/* One page of a paginated listing (ListShards, ListStreamConsumers): how to read it. */
struct kin_page {
	const char *key;  /* the array: "Shards" */
	const char *what; /* for errors: "shards" */
	size_t size;      /* of one item */
	size_t page_max;  /* items one page may hold */
	/* Fills one item from its object; "where" names it ("Shards[2]"). */
	int (*parse)(json_object *o, const char *where, void *out, struct aws_error *err);
};

/* Appends the page's items to *items (n of *cap slots used, grown as needed), refusing
 * more than max in all, and hands out its NextToken (malloc'd; NULL when absent, null
 * or empty). 0, or -1 with err (*n unchanged). */
int kin_parse_page(const char *body, size_t len, const struct kin_page *pg, void **items, size_t *n,
    size_t *cap, size_t max, char **next_token, struct aws_error *err);

#endif
