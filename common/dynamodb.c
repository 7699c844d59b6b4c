/*
 * DynamoDB client for the lease table: typed values out, checked attribute maps in,
 * and a write builder that names every attribute through generated placeholders
 * (#_0, :_0) so that reserved words ("owner", "counter"...) never break an
 * expression. See dynamodb.h for the contract.
 */
#include "config.h"

#include "common/dynamodb_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/awsjson.h"
#include "common/clock.h"

static const struct aws_retry_policy default_retry = { 5, 50, 2000 };

void
ddb_service_config(struct aws_service_config *cfg, const char *region, const char *endpoint,
    struct aws_creds_provider *creds)
{
	awsj_service_config(cfg, "dynamodb", "DynamoDB_20120810", "application/x-amz-json-1.0",
	    region, endpoint, creds);
}

struct ddb_client *
ddb_client_new(const struct aws_service_config *cfg, const struct aws_retry_policy *retry,
    struct aws_error *err)
{
	struct ddb_client *c = calloc(1, sizeof(*c));

	if (!c) {
		awsj_local_error(err, "NoMemory", "dynamodb client: %s", strerror(errno));
		return NULL;
	}
	if (awsj_client_init(&c->j, cfg, retry, &default_retry, err) < 0) {
		free(c);
		return NULL;
	}
	return c;
}

void
ddb_client_free(struct ddb_client *c)
{
	if (!c)
		return;
	awsj_client_fini(&c->j);
	free(c);
}

/* ---- shared call path ---- */

json_object *
ddbi_table_request(const char *table)
{
	json_object *req = json_object_new_object();
	if (req && awsj_add_str(req, "TableName", table) < 0) {
		json_object_put(req);
		return NULL;
	}
	return req;
}

int
ddbi_check_table(const char *call, const char *table, struct aws_error *err)
{
	if (ddbi_valid_table(table))
		return 0;
	awsj_local_error(err, "InvalidArgument",
	    "%s: table name \"%.*s\" is not 3..255 characters of [a-zA-Z0-9_.-]", call, 64,
	    table ? table : "(null)");
	return -1;
}

int
ddbi_add_obj(json_object *obj, const char *key, json_object *v)
{
	if (!v || json_object_object_add(obj, key, v) < 0) {
		json_object_put(v);
		return -1;
	}
	return 0;
}

int
ddbi_add_ref(json_object *req, const char *key, json_object *v)
{
	json_object_get(v);
	if (json_object_object_add(req, key, v) < 0) {
		json_object_put(v);
		return -1;
	}
	return 0;
}

/* ---- tables ---- */

static json_object *
key_element(const char *name, const char *type_key, const char *type)
{
	json_object *o = json_object_new_object();
	if (!o || awsj_add_str(o, "AttributeName", name) < 0 || awsj_add_str(o, type_key, type) < 0) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static json_object *
one_element_array(json_object *e)
{
	json_object *a;

	if (!e)
		return NULL;
	a = json_object_new_array();
	if (!a || json_object_array_add(a, e) < 0) {
		json_object_put(e);
		json_object_put(a);
		return NULL;
	}
	return a;
}

static json_object *
create_table_request(const char *table, const struct ddb_table_spec *spec, struct aws_error *err)
{
	static const struct ddb_table_spec defaults;
	const char *key, *type;
	json_object *req;
	int64_t rcu, wcu;

	if (!spec)
		spec = &defaults;
	key = spec->key_name ? spec->key_name : "leaseKey";
	type = spec->key_type ? spec->key_type : "S";
	rcu = spec->read_capacity ? spec->read_capacity : 10;
	wcu = spec->write_capacity ? spec->write_capacity : 10;
	if (ddbi_check_table("CreateTable", table, err) < 0)
		return NULL;
	if (!ddbi_valid_attr_name(key) || (strcmp(type, "S") && strcmp(type, "N") && strcmp(type, "B"))) {
		awsj_local_error(err, "InvalidArgument",
		    "CreateTable %s: key \"%.64s\" of type \"%.8s\": need a name of 1..%d characters "
		    "and type S, N or B",
		    table, key, type, DDB_ATTR_NAME_MAX);
		return NULL;
	}
	if (spec->provisioned && (rcu < 1 || wcu < 1 || rcu > 1000000 || wcu > 1000000)) {
		awsj_local_error(err, "InvalidArgument",
		    "CreateTable %s: capacity %" PRId64 "/%" PRId64 " not in 1..1000000", table, rcu,
		    wcu);
		return NULL;
	}
	req = ddbi_table_request(table);
	if (!req ||
	    ddbi_add_obj(req, "AttributeDefinitions",
		one_element_array(key_element(key, "AttributeType", type))) < 0 ||
	    ddbi_add_obj(req, "KeySchema", one_element_array(key_element(key, "KeyType", "HASH"))) < 0 ||
	    awsj_add_str(req, "BillingMode", spec->provisioned ? "PROVISIONED" : "PAY_PER_REQUEST") < 0)
		goto nomem;
	if (spec->provisioned) {
		json_object *pt = json_object_new_object();
		if (!pt || awsj_add_int(pt, "ReadCapacityUnits", rcu) < 0 ||
		    awsj_add_int(pt, "WriteCapacityUnits", wcu) < 0) {
			json_object_put(pt);
			goto nomem;
		}
		if (ddbi_add_obj(req, "ProvisionedThroughput", pt) < 0)
			goto nomem;
	}
	return req;
nomem:
	json_object_put(req);
	awsj_local_error(err, "NoMemory", "CreateTable %s: out of memory", table);
	return NULL;
}

int
ddb_create_table_body(struct kls_buf *out, const char *table, const struct ddb_table_spec *spec,
    struct aws_error *err)
{
	return awsj_body(create_table_request(table, spec, err), out, err);
}

int
ddb_create_table(struct ddb_client *c, const char *table, const struct ddb_table_spec *spec,
    struct aws_error *err)
{
	json_object *req = create_table_request(table, spec, err);
	int rc;

	if (!req)
		return DDB_ERROR;
	rc = awsj_send(&c->j, "CreateTable", req, err);
	if (rc == 0)
		return DDB_OK;
	awsj_context(err, "CreateTable %s", table);
	return awsj_error_is(err, "ResourceInUseException") ? DDB_EXISTS : DDB_ERROR;
}

int
ddb_parse_table(const char *body, size_t len, struct ddb_table_info *out, struct aws_error *err)
{
	json_object *o, *t, *ks, *bm;
	int rc = DDB_ERROR;

	memset(out, 0, sizeof(*out));
	out->item_count = -1;
	if (!(o = awsj_parse(body, len, err)))
		return DDB_ERROR;
	if (awsj_obj(o, "", "Table", true, false, &t, err) < 0 ||
	    awsj_str(t, "Table", "TableName", true, DDB_TABLE_NAME_MAX, out->name, sizeof(out->name),
		err) < 0 ||
	    awsj_str(t, "Table", "TableStatus", true, sizeof(out->status) - 1, out->status,
		sizeof(out->status), err) < 0 ||
	    awsj_int(t, "Table", "ItemCount", false, 0, INT64_MAX, &out->item_count, err) < 0 ||
	    awsj_obj(t, "Table", "KeySchema", true, true, &ks, err) < 0)
		goto out;
	for (size_t i = 0; i < json_object_array_length(ks); i++) {
		json_object *e = json_object_array_get_idx(ks, i);
		const char *kt, *name;
		char where[48];

		snprintf(where, sizeof(where), "Table.KeySchema[%zu]", i);
		if (!json_object_is_type(e, json_type_object)) {
			awsj_bad_response(err, "%s: not an object", where);
			goto out;
		}
		if (awsj_str_ref(e, where, "KeyType", true, 16, &kt, err) < 0 ||
		    awsj_str_ref(e, where, "AttributeName", true, DDB_ATTR_NAME_MAX, &name, err) < 0)
			goto out;
		if (strcmp(kt, "HASH") == 0)
			snprintf(out->key_name, sizeof(out->key_name), "%s", name);
	}
	if (!*out->key_name) {
		awsj_bad_response(err, "Table.KeySchema: no HASH key");
		goto out;
	}
	switch (awsj_obj(t, "Table", "BillingModeSummary", false, false, &bm, err)) {
	case -1:
		goto out;
	case 0:
		if (awsj_str(bm, "Table.BillingModeSummary", "BillingMode", false,
			sizeof(out->billing_mode) - 1, out->billing_mode, sizeof(out->billing_mode),
			err) < 0)
			goto out;
	}
	rc = DDB_OK;
out:
	json_object_put(o);
	return rc;
}

int
ddb_describe_table(struct ddb_client *c, const char *table, struct ddb_table_info *out,
    struct aws_error *err)
{
	json_object *req;
	int rc;

	if (ddbi_check_table("DescribeTable", table, err) < 0)
		return DDB_ERROR;
	if (!(req = ddbi_table_request(table))) {
		awsj_local_error(err, "NoMemory", "DescribeTable %s: out of memory", table);
		return DDB_ERROR;
	}
	rc = awsj_send(&c->j, "DescribeTable", req, err);
	if (rc < 0) {
		awsj_context(err, "DescribeTable %s", table);
		return awsj_error_is(err, "ResourceNotFoundException") ? DDB_NOT_FOUND : DDB_ERROR;
	}
	rc = ddb_parse_table(c->j.resp.data, c->j.resp.len, out, err);
	if (rc != DDB_OK)
		awsj_context(err, "DescribeTable %s", table);
	return rc;
}

int
ddb_wait_table_active(struct ddb_client *c, const char *table, int timeout_ms,
    struct aws_error *err)
{
	kls_mono deadline = mono_add_ms(mono_now(), timeout_ms);
	struct ddb_table_info info;
	int64_t pause = 10;

	for (;;) {
		int rc = ddb_describe_table(c, table, &info, err);
		if (rc != DDB_OK)
			return DDB_ERROR;
		if (strcmp(info.status, "ACTIVE") == 0)
			return DDB_OK;
		if (!mono_before(mono_now(), deadline)) {
			awsj_local_error(err, "Timeout", "table %s still %s after %d ms", table,
			    info.status, timeout_ms);
			return DDB_ERROR;
		}
		sleep_ms(pause);
		pause = pause * 2 > 500 ? 500 : pause * 2;
	}
}

int
ddb_ensure_table(struct ddb_client *c, const char *table, const struct ddb_table_spec *spec,
    int timeout_ms, struct aws_error *err)
{
	int rc = ddb_create_table(c, table, spec, err);
	if (rc != DDB_OK && rc != DDB_EXISTS)
		return DDB_ERROR;
	return ddb_wait_table_active(c, table, timeout_ms, err);
}

int
ddb_delete_table(struct ddb_client *c, const char *table, struct aws_error *err)
{
	json_object *req;
	int rc;

	if (ddbi_check_table("DeleteTable", table, err) < 0)
		return DDB_ERROR;
	if (!(req = ddbi_table_request(table))) {
		awsj_local_error(err, "NoMemory", "DeleteTable %s: out of memory", table);
		return DDB_ERROR;
	}
	rc = awsj_send(&c->j, "DeleteTable", req, err);
	if (rc == 0)
		return DDB_OK;
	awsj_context(err, "DeleteTable %s", table);
	return awsj_error_is(err, "ResourceNotFoundException") ? DDB_NOT_FOUND : DDB_ERROR;
}

/* ---- GetItem ---- */

int
ddb_parse_get_item(const char *body, size_t len, struct ddb_item *out, struct aws_error *err)
{
	json_object *o, *item;
	int rc;

	out->attrs = NULL;
	if (!(o = awsj_parse(body, len, err)))
		return DDB_ERROR;
	rc = awsj_obj(o, "", "Item", false, false, &item, err);
	if (rc == 0)
		rc = ddb_item_from_json(item, "Item", out, err) < 0 ? DDB_ERROR : DDB_OK;
	else if (rc == 1)
		rc = DDB_NOT_FOUND;
	else
		rc = DDB_ERROR;
	json_object_put(o);
	return rc;
}

int
ddb_get_item(struct ddb_client *c, const char *table, const char *key_name, struct ddb_value key,
    struct ddb_item *out, struct aws_error *err)
{
	char why[128], kd[100];
	json_object *req, *k, *kv;
	int rc;

	out->attrs = NULL;
	ddbi_describe_value(key, kd, sizeof(kd));
	if (ddbi_check_table("GetItem", table, err) < 0)
		return DDB_ERROR;
	if (!ddbi_valid_attr_name(key_name) || !(kv = ddbi_value_json(key, why, sizeof(why)))) {
		awsj_local_error(err, "InvalidArgument", "GetItem %s/%s: bad key: %s", table, kd,
		    ddbi_valid_attr_name(key_name) ? why : "key name");
		return DDB_ERROR;
	}
	req = ddbi_table_request(table);
	k = json_object_new_object();
	if (!req || !k || json_object_object_add(k, key_name, kv) < 0) {
		json_object_put(kv);
		json_object_put(k);
		k = NULL;
		goto nomem;
	}
	if (ddbi_add_obj(req, "Key", k) < 0 || ddbi_add_obj(req, "ConsistentRead", json_object_new_boolean(1)) < 0)
		goto nomem;
	rc = awsj_send(&c->j, "GetItem", req, err);
	if (rc == 0)
		rc = ddb_parse_get_item(c->j.resp.data, c->j.resp.len, out, err);
	else
		rc = DDB_ERROR;
	if (rc == DDB_ERROR)
		awsj_context(err, "GetItem %s/%s", table, kd);
	return rc;
nomem:
	json_object_put(req);
	awsj_local_error(err, "NoMemory", "GetItem %s/%s: out of memory", table, kd);
	return DDB_ERROR;
}

/* ---- Scan ---- */

struct ddb_scan {
	char table[DDB_TABLE_NAME_MAX + 1];
	bool table_ok;
	struct ddb_scan_opts opts;
	json_object *last_key; /* LastEvaluatedKey of the previous page */
	bool done;
	int pages;
};

struct ddb_scan *
ddb_scan_new(const char *table, const struct ddb_scan_opts *opts)
{
	struct ddb_scan *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->table_ok = ddbi_valid_table(table);
	if (s->table_ok)
		snprintf(s->table, sizeof(s->table), "%s", table);
	if (opts)
		s->opts = *opts;
	return s;
}

void
ddb_scan_free(struct ddb_scan *s)
{
	if (!s)
		return;
	json_object_put(s->last_key);
	free(s);
}

bool
ddb_scan_done(const struct ddb_scan *s)
{
	return s->done;
}

int
ddb_scan_pages(const struct ddb_scan *s)
{
	return s->pages;
}

static json_object *
scan_request(const struct ddb_scan *s, struct aws_error *err)
{
	json_object *req;

	if (!s->table_ok) {
		awsj_local_error(err, "InvalidArgument",
		    "Scan: table name is not 3..255 characters of [a-zA-Z0-9_.-]");
		return NULL;
	}
	if (s->opts.limit < 0) {
		awsj_local_error(err, "InvalidArgument", "Scan %s: Limit %d", s->table, s->opts.limit);
		return NULL;
	}
	req = ddbi_table_request(s->table);
	if (!req || (s->opts.limit && awsj_add_int(req, "Limit", s->opts.limit) < 0) ||
	    (s->opts.consistent && ddbi_add_obj(req, "ConsistentRead", json_object_new_boolean(1)) < 0) ||
	    (s->last_key && ddbi_add_ref(req, "ExclusiveStartKey", s->last_key) < 0)) {
		json_object_put(req);
		awsj_local_error(err, "NoMemory", "Scan %s: out of memory", s->table);
		return NULL;
	}
	return req;
}

int
ddb_scan_body(const struct ddb_scan *s, struct kls_buf *out, struct aws_error *err)
{
	return awsj_body(scan_request(s, err), out, err);
}

int
ddb_scan_parse(struct ddb_scan *s, const char *body, size_t len, struct ddb_item_list *out,
    struct aws_error *err)
{
	json_object *o, *items, *last = NULL;
	size_t first = out->n, n;
	int rc = DDB_ERROR;

	if (!(o = awsj_parse(body, len, err)))
		return DDB_ERROR;
	if (awsj_obj(o, "", "Items", true, true, &items, err) < 0 ||
	    awsj_obj(o, "", "LastEvaluatedKey", false, false, &last, err) < 0)
		goto out;
	n = json_object_array_length(items);
	for (size_t i = 0; i < n; i++) {
		struct ddb_item it;
		char where[48];

		snprintf(where, sizeof(where), "Items[%zu]", i);
		if (ddb_item_from_json(json_object_array_get_idx(items, i), where, &it, err) < 0)
			goto undo;
		if (ddbi_list_push(out, it, err) < 0) {
			ddb_item_free(&it);
			goto undo;
		}
	}
	if (last && (json_object_object_length(last) == 0 ||
			(s->last_key && json_object_equal(last, s->last_key)))) {
		/* A key that does not move would page forever. */
		awsj_bad_response(err, "LastEvaluatedKey is empty or did not advance");
		goto undo;
	}
	json_object_put(s->last_key);
	s->last_key = last ? json_object_get(last) : NULL;
	s->done = !last;
	s->pages++;
	rc = DDB_OK;
	goto out;
undo:
	while (out->n > first)
		ddb_item_free(&out->v[--out->n]);
out:
	json_object_put(o);
	return rc;
}

int
ddb_scan_next(struct ddb_client *c, struct ddb_scan *s, struct ddb_item_list *out,
    struct aws_error *err)
{
	json_object *req;
	int rc;

	if (s->done)
		return DDB_OK;
	if (!(req = scan_request(s, err)))
		return DDB_ERROR;
	rc = awsj_send(&c->j, "Scan", req, err);
	if (rc == 0)
		rc = ddb_scan_parse(s, c->j.resp.data, c->j.resp.len, out, err);
	else
		rc = DDB_ERROR;
	if (rc != DDB_OK)
		awsj_context(err, "Scan %s (page %d)", s->table, s->pages + 1);
	return rc;
}

int
ddb_scan_all(struct ddb_client *c, const char *table, const struct ddb_scan_opts *opts,
    struct ddb_item_list *out, struct aws_error *err)
{
	struct ddb_scan *s = ddb_scan_new(table, opts);
	size_t max = opts && opts->max_items ? opts->max_items : DDB_SCAN_ITEMS_MAX;
	int rc = DDB_OK;

	ddb_item_list_free(out);
	if (!s) {
		awsj_local_error(err, "NoMemory", "Scan %s: out of memory", table);
		return DDB_ERROR;
	}
	while (rc == DDB_OK && !s->done) {
		rc = ddb_scan_next(c, s, out, err);
		if (rc == DDB_OK && out->n > max) {
			awsj_local_error(err, "TooManyItems", "Scan %s: more than %zu items", table, max);
			rc = DDB_ERROR;
		}
	}
	ddb_scan_free(s);
	if (rc != DDB_OK)
		ddb_item_list_free(out);
	return rc;
}
