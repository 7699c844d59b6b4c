/*
 * Typed DynamoDB client over common/aws.h, for the lease table: create / describe /
 * wait for a table, consistent GetItem, conditional PutItem / UpdateItem / DeleteItem
 * through a write builder, and paginated Scan.
 *
 * One ddb_client per thread (it wraps one aws_client and a response buffer). Calls
 * return a ddb_status: DDB_OK, DDB_ERROR (-1, err filled, message naming the call,
 * table and key: "UpdateItem leases/shardId-0001: ..."), or an outcome that is not a
 * failure of the call: DDB_CONDITION_FAILED (ConditionalCheckFailedException),
 * DDB_EXISTS (CreateTable of a table that exists), DDB_NOT_FOUND (no such item or
 * table). err->type keeps the service's error type in every non-OK case.
 *
 * Retries: the client retries throttled and retryable failures with its policy. A
 * conditional write retried after a timeout may have landed the first time, and then
 * reports DDB_CONDITION_FAILED: the caller re-reads the item to tell.
 *
 * Writes read like the lease protocol:
 *
 *	struct ddb_write *w = ddb_update_new(table, "leaseKey", ddb_s(shard));
 *	ddb_set(w, "leaseOwner", ddb_s(me));
 *	ddb_set(w, "leaseCounter", ddb_int(counter + 1));
 *	ddb_cond_eq(w, "leaseCounter", ddb_int(counter));
 *	ddb_cond_not_exists(w, "checkpointOwner");
 *	rc = ddb_execute(client, w, &err);   // DDB_OK, DDB_CONDITION_FAILED or DDB_ERROR
 *	ddb_write_free(w);
 *
 * Builder calls never fail on their own: the first problem (bad placeholder, too many
 * attributes, out of memory) is kept and reported by ddb_execute / ddb_write_body.
 */
#ifndef KLS_DYNAMODB_H
#define KLS_DYNAMODB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/aws.h"
#include "common/buf.h"

struct json_object;

enum ddb_status {
	DDB_ERROR = -1,
	DDB_OK = 0,
	DDB_CONDITION_FAILED = 1,
	DDB_EXISTS = 2,
	DDB_NOT_FOUND = 3,
};

#define DDB_TABLE_NAME_MAX 255
#define DDB_ATTR_NAME_MAX 255      /* our bound; the service allows 64 KiB */
#define DDB_NUMBER_MAX 40          /* characters of a number: 38 digits, sign, point */
#define DDB_STRING_MAX (64 * 1024) /* our bound on one string we send */
#define DDB_SET_MAX 1024           /* elements of one string set we send */
#define DDB_WRITE_ATTRS_MAX 256    /* attributes, names and values in one write */
#define DDB_SCAN_ITEMS_MAX 100000  /* default bound on ddb_scan_all */

struct ddb_client;

/* Fills the DynamoDB-specific fields of cfg and zeroes the rest; endpoint NULL = the
 * region's public endpoint. */
void ddb_service_config(struct aws_service_config *cfg, const char *region, const char *endpoint,
    struct aws_creds_provider *creds);
/* retry NULL = 5 attempts, 50 ms first backoff, 2 s cap. */
struct ddb_client *ddb_client_new(const struct aws_service_config *cfg,
    const struct aws_retry_policy *retry, struct aws_error *err);
void ddb_client_free(struct ddb_client *c);

/* ---- values we send (the caller's strings are copied when used) ---- */

enum ddb_type {
	DDB_T_NONE = 0, /* absent (item getters) */
	DDB_T_S,
	DDB_T_N,
	DDB_T_SS,
	DDB_T_NULL,
	DDB_T_BOOL,
	DDB_T_OTHER, /* B, NS, BS, M, L in an item we read: kept, not interpreted */
};

struct ddb_value {
	enum ddb_type type;
	const char *s;         /* S; N as a decimal string (NULL: the number is i) */
	int64_t i;             /* N when s is NULL */
	const char *const *ss; /* SS: nss distinct strings, nss >= 1 */
	size_t nss;
	bool b;                /* BOOL */
};

static inline struct ddb_value
ddb_s(const char *s)
{
	return (struct ddb_value){ .type = DDB_T_S, .s = s };
}

/* A number as a decimal string ("12", "-3.5", "1e3"). */
static inline struct ddb_value
ddb_n(const char *decimal)
{
	return (struct ddb_value){ .type = DDB_T_N, .s = decimal };
}

static inline struct ddb_value
ddb_int(int64_t i)
{
	return (struct ddb_value){ .type = DDB_T_N, .i = i };
}

static inline struct ddb_value
ddb_ss(const char *const *v, size_t n)
{
	return (struct ddb_value){ .type = DDB_T_SS, .ss = v, .nss = n };
}

static inline struct ddb_value
ddb_null(void)
{
	return (struct ddb_value){ .type = DDB_T_NULL };
}

static inline struct ddb_value
ddb_bool(bool b)
{
	return (struct ddb_value){ .type = DDB_T_BOOL, .b = b };
}

/* ---- items we read ---- */

/* One item from GetItem or Scan: an attribute map checked at parse time (every value
 * is an object with one known type tag of the right JSON type). */
struct ddb_item {
	struct json_object *attrs; /* NULL = no item */
};

struct ddb_item_list {
	struct ddb_item *v;
	size_t n;
	size_t cap;
};

void ddb_item_free(struct ddb_item *it);
void ddb_item_list_free(struct ddb_item_list *l);

/* Type of attribute name in it; DDB_T_NONE when absent. */
enum ddb_type ddb_item_type(const struct ddb_item *it, const char *name);
/* The string of an S attribute, the decimal string of an N attribute; NULL when absent
 * or of another type. Valid while it lives. */
const char *ddb_item_s(const struct ddb_item *it, const char *name);
const char *ddb_item_n(const struct ddb_item *it, const char *name);
/* An N attribute that is an integer in int64_t range: 0, or -1 (absent, other type,
 * fraction, out of range). */
int ddb_item_int(const struct ddb_item *it, const char *name, int64_t *out);
int ddb_item_bool(const struct ddb_item *it, const char *name, bool *out);
/* Elements of an SS attribute: count (0 when absent or of another type), and element i. */
size_t ddb_item_ss_count(const struct ddb_item *it, const char *name);
const char *ddb_item_ss_at(const struct ddb_item *it, const char *name, size_t i);

/* Checks and adopts an item's attribute map (one element of Items, or Item): takes a
 * reference to map. For tests and for parsers of other responses. */
int ddb_item_from_json(struct json_object *map, const char *where, struct ddb_item *out,
    struct aws_error *err);

/* ---- tables ---- */

struct ddb_table_spec {
	const char *key_name; /* NULL = "leaseKey" */
	const char *key_type; /* "S", "N" or "B"; NULL = "S" */
	bool provisioned;     /* false = on-demand (PAY_PER_REQUEST) */
	int64_t read_capacity, write_capacity; /* provisioned only; 0 = 10 */
};

struct ddb_table_info {
	char name[DDB_TABLE_NAME_MAX + 1];
	char status[32];       /* CREATING, UPDATING, DELETING, ACTIVE, ... */
	char key_name[DDB_ATTR_NAME_MAX + 1]; /* the HASH key */
	char billing_mode[32]; /* PAY_PER_REQUEST, PROVISIONED; "" when not reported */
	int64_t item_count;    /* -1 when not reported */
};

/* DDB_OK, DDB_EXISTS (ResourceInUseException: the table exists or is being made), or
 * DDB_ERROR. spec NULL = on-demand with a string hash key "leaseKey". */
int ddb_create_table(struct ddb_client *c, const char *table, const struct ddb_table_spec *spec,
    struct aws_error *err);
int ddb_create_table_body(struct kls_buf *out, const char *table,
    const struct ddb_table_spec *spec, struct aws_error *err);
/* DDB_OK, DDB_NOT_FOUND or DDB_ERROR. */
int ddb_describe_table(struct ddb_client *c, const char *table, struct ddb_table_info *out,
    struct aws_error *err);
int ddb_parse_table(const char *body, size_t len, struct ddb_table_info *out,
    struct aws_error *err);
/* Polls DescribeTable until ACTIVE, for at most timeout_ms (err->type "Timeout"). */
int ddb_wait_table_active(struct ddb_client *c, const char *table, int timeout_ms,
    struct aws_error *err);
/* Creates the table unless it exists, then waits for ACTIVE: DDB_OK or DDB_ERROR. */
int ddb_ensure_table(struct ddb_client *c, const char *table, const struct ddb_table_spec *spec,
    int timeout_ms, struct aws_error *err);
/* DDB_OK, DDB_NOT_FOUND or DDB_ERROR. */
int ddb_delete_table(struct ddb_client *c, const char *table, struct aws_error *err);

/* ---- items ---- */

/* Consistent read of the item whose hash key key_name is key: DDB_OK with out filled,
 * DDB_NOT_FOUND (out->attrs NULL), or DDB_ERROR. */
int ddb_get_item(struct ddb_client *c, const char *table, const char *key_name,
    struct ddb_value key, struct ddb_item *out, struct aws_error *err);
int ddb_parse_get_item(const char *body, size_t len, struct ddb_item *out, struct aws_error *err);

struct ddb_write;

/* PutItem: ddb_set gives the item's attributes (key included). */
struct ddb_write *ddb_put_new(const char *table);
/* UpdateItem / DeleteItem of the item with hash key key_name = key. */
struct ddb_write *ddb_update_new(const char *table, const char *key_name, struct ddb_value key);
struct ddb_write *ddb_delete_new(const char *table, const char *key_name, struct ddb_value key);
void ddb_write_free(struct ddb_write *w);

/* A further key attribute (a sort key), update and delete only. */
void ddb_key(struct ddb_write *w, const char *name, struct ddb_value v);
/* Put: an attribute of the item. Update: SET name = v. */
void ddb_set(struct ddb_write *w, const char *name, struct ddb_value v);
/* Update: REMOVE name. */
void ddb_remove(struct ddb_write *w, const char *name);
/* Update: ADD name v (adds to a number, unions a set; creates the attribute). */
void ddb_add(struct ddb_write *w, const char *name, struct ddb_value v);

/* Conditions, ANDed in the order given. */
void ddb_cond_eq(struct ddb_write *w, const char *name, struct ddb_value v);
void ddb_cond_ne(struct ddb_write *w, const char *name, struct ddb_value v);
void ddb_cond_exists(struct ddb_write *w, const char *name);
void ddb_cond_not_exists(struct ddb_write *w, const char *name);
/* A raw condition expression, ANDed (in parentheses) with the others; its
 * placeholders are declared with ddb_name / ddb_value. Placeholders beginning with
 * "#_" and ":_" are reserved for the builder. */
void ddb_condition(struct ddb_write *w, const char *expr);
void ddb_name(struct ddb_write *w, const char *placeholder, const char *attr);
void ddb_value(struct ddb_write *w, const char *placeholder, struct ddb_value v);

/* "PutItem", "UpdateItem" or "DeleteItem". */
const char *ddb_write_action(const struct ddb_write *w);
/* The request body (pure): -1 with err when the builder recorded a problem. */
int ddb_write_body(const struct ddb_write *w, struct kls_buf *out, struct aws_error *err);
/* DDB_OK, DDB_CONDITION_FAILED or DDB_ERROR. */
int ddb_execute(struct ddb_client *c, const struct ddb_write *w, struct aws_error *err);

/* ---- scan ---- */

struct ddb_scan_opts {
	int limit;        /* items evaluated per page; 0 = the service's 1 MB pages */
	bool consistent;  /* ConsistentRead */
	size_t max_items; /* ddb_scan_all's bound; 0 = DDB_SCAN_ITEMS_MAX */
};

struct ddb_scan;

struct ddb_scan *ddb_scan_new(const char *table, const struct ddb_scan_opts *opts);
void ddb_scan_free(struct ddb_scan *s);
/* Fetches the next page and appends its items to out: DDB_OK or DDB_ERROR. After the
 * last page ddb_scan_done is true and further calls append nothing. */
int ddb_scan_next(struct ddb_client *c, struct ddb_scan *s, struct ddb_item_list *out,
    struct aws_error *err);
bool ddb_scan_done(const struct ddb_scan *s);
/* Pages fetched so far. */
int ddb_scan_pages(const struct ddb_scan *s);
/* The request body of the next page (pure). */
int ddb_scan_body(const struct ddb_scan *s, struct kls_buf *out, struct aws_error *err);
/* Consumes one Scan response: appends Items to out, keeps LastEvaluatedKey. */
int ddb_scan_parse(struct ddb_scan *s, const char *body, size_t len, struct ddb_item_list *out,
    struct aws_error *err);

/* Every item of table (out reset first, left empty on failure), at most opts->max_items. */
int ddb_scan_all(struct ddb_client *c, const char *table, const struct ddb_scan_opts *opts,
    struct ddb_item_list *out, struct aws_error *err);

#endif
