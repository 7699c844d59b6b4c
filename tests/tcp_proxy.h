/*
 * A loopback TCP proxy for fault tests: listens on 127.0.0.1 (a free port) and forwards
 * every connection to a target port on 127.0.0.1, in a thread of its own. The test
 * switches it to black-hole (connections accepted, requests swallowed, nothing ever
 * answered: a partition that looks like a hung server) or drop (every connection
 * closed at once: a server that is gone), and back. It also counts the AWS JSON
 * requests it forwards by their X-Amz-Target operation, to measure how often a
 * client calls.
 */
#ifndef KLS_TEST_TCP_PROXY_H
#define KLS_TEST_TCP_PROXY_H

enum tcp_proxy_mode {
	TCP_PROXY_FORWARD,
	TCP_PROXY_BLACKHOLE, /* accept, read and discard, never answer */
	TCP_PROXY_DROP,      /* close every connection, new ones at once */
};

struct tcp_proxy;

/* Starts a proxy to 127.0.0.1:target_port. NULL with errno on failure. */
struct tcp_proxy *tcp_proxy_start(int target_port);
/* The port of an "http://127.0.0.1:PORT" URL, or -1. */
int tcp_proxy_url_port(const char *url);
int tcp_proxy_port(const struct tcp_proxy *p);
/* Takes effect on every connection, open or new, before this returns. Leaving
 * black-hole closes the connections it swallowed requests on. */
void tcp_proxy_set_mode(struct tcp_proxy *p, enum tcp_proxy_mode mode);
/* Requests forwarded whose X-Amz-Target ends in ".<op>" (NULL = every request). */
unsigned long tcp_proxy_requests(struct tcp_proxy *p, const char *op);
/* Stops the thread and closes everything. NULL is ignored. */
void tcp_proxy_stop(struct tcp_proxy *p);

#endif
