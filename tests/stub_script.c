/* Scripted AWS endpoint for client tests: see stub_script.h. */
#include "config.h"

#include "tests/stub_script.h"

#include "common/creds.h"

#include <stdio.h>
#include <string.h>

static void
fail(struct stub_script *s, int index, const char *what, const char *detail)
{
	if (!s->failure[0])
		snprintf(s->failure, sizeof(s->failure), "request %d: %s %.900s", index, what, detail);
}

void
stub_script_handler(void *arg, const struct stub_request *req, struct stub_response *resp)
{
	struct stub_script *s = arg;
	const struct stub_step *st;
	char target[256];

	snprintf(s->last_body, sizeof(s->last_body), "%s", req->body);
	snprintf(resp->headers, sizeof(resp->headers), "Content-Type: %s\r\n",
	    s->content_type ? s->content_type : "application/x-amz-json-1.1");
	if ((size_t)req->index >= s->n) {
		fail(s, req->index, "unexpected request:", req->body);
		resp->status = 500;
		buf_puts(&resp->body, "{\"__type\":\"InternalFailure\",\"message\":\"script ended\"}");
		return;
	}
	st = &s->steps[req->index];
	s->answered = req->index + 1;
	if (st->action) {
		const char *dot;
		if (stub_header(req, "X-Amz-Target", target, sizeof(target)) < 0)
			fail(s, req->index, "no X-Amz-Target, expected", st->action);
		else if (!(dot = strrchr(target, '.')) || strcmp(dot + 1, st->action) != 0)
			fail(s, req->index, "X-Amz-Target is", target);
	}
	for (int i = 0; i < 4 && st->must[i]; i++)
		if (!strstr(req->body, st->must[i]))
			fail(s, req->index, "body lacks", st->must[i]);
	for (int i = 0; i < 4 && st->must_not[i]; i++)
		if (strstr(req->body, st->must_not[i]))
			fail(s, req->index, "body has", st->must_not[i]);
	resp->status = st->status ? st->status : 200;
	buf_puts(&resp->body, st->body ? st->body : "");
}

const struct aws_retry_policy stub_no_retry = { 1, 0, 0 };

int
stub_endpoint_start(struct stub_endpoint *e, struct stub_script *script, stub_config_fill fill)
{
	e->srv = stub_start(stub_script_handler, script);
	e->creds = creds_provider_new_static("AKIDEXAMPLE", "secret", NULL);
	if (!e->srv || !e->creds) {
		stub_endpoint_stop(e);
		return -1;
	}
	fill(&e->cfg, "us-east-1", stub_url(e->srv), e->creds);
	return 0;
}

void
stub_endpoint_stop(struct stub_endpoint *e)
{
	if (e->srv)
		stub_stop(e->srv);
	creds_provider_free(e->creds);
	e->srv = NULL;
	e->creds = NULL;
}
