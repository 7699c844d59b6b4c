/* Scripted AWS endpoint for client tests: see stub_script.h. */
#include "config.h"

#include "tests/stub_script.h"

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
