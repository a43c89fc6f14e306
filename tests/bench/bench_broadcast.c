/*
 * bench_broadcast.c -- the parked-query benchmark's baseline
 * (tests/bench/park.sh): the most trivial server that holds N FastCGI
 * requests and answers them all at once on a signal, behind the same
 * nginx as Portcullis (nginx/dev.conf.in, location /bench/broadcast).
 *
 *   bench_broadcast SOCKET_PREFIX NPROC
 *
 * NPROC processes, process i listening on SOCKET_PREFIX-i.sock (nginx
 * spreads over them round-robin): no process may hold more than the
 * host's fd cap.  Each is one epoll loop speaking just enough FastCGI
 * (BEGIN_REQUEST, PARAMS, STDIN; STDOUT, END_REQUEST) over kept
 * connections, as nginx's fastcgi_keep_conn asks.  A request whose
 * query is "release" sends SIGUSR1 to the process group and is
 * answered at once; on SIGUSR1 every process answers every request it
 * holds with a fixed JSON reply, in one pass.  The same load client
 * times that against Portcullis releasing its parked queries on one
 * write.
 */
#include "config.h"

#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FCGI_BEGIN_REQUEST	1
#define FCGI_END_REQUEST	3
#define FCGI_PARAMS		4
#define FCGI_STDIN		5
#define FCGI_STDOUT		6
#define FCGI_KEEP_CONN		1

struct conn {
	unsigned char	*buf;
	size_t		 len, cap;
	int		 reqid;
	int		 keep;
	int		 release;	/* QUERY_STRING is "release" */
	int		 held;
	int		 prev, next;	/* the held list, by fd */
};

static struct conn	*conns;
static int		 nconns;
static int		 held_head = -1;
static int		 ep;

static const char	 body[] = "Status: 200 OK\r\n"
    "Content-Type: application/json\r\nContent-Length: 16\r\n\r\n"
    "{\"Allowed\":true}";

static void
hold(int fd)
{
	conns[fd].held = 1;
	conns[fd].prev = -1;
	conns[fd].next = held_head;
	if (held_head != -1)
		conns[held_head].prev = fd;
	held_head = fd;
}

static void
unhold(int fd)
{
	if (!conns[fd].held)
		return;
	if (conns[fd].prev != -1)
		conns[conns[fd].prev].next = conns[fd].next;
	else
		held_head = conns[fd].next;
	if (conns[fd].next != -1)
		conns[conns[fd].next].prev = conns[fd].prev;
	conns[fd].held = 0;
}

static void
drop(int fd)
{
	unhold(fd);
	epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
	close(fd);
	free(conns[fd].buf);
	memset(&conns[fd], 0, sizeof(conns[fd]));
}

static void
header(unsigned char *h, int type, int id, size_t len, int pad)
{
	h[0] = 1;
	h[1] = type;
	h[2] = (id >> 8) & 0xff;
	h[3] = id & 0xff;
	h[4] = (len >> 8) & 0xff;
	h[5] = len & 0xff;
	h[6] = pad;
	h[7] = 0;
}

/* The reply: STDOUT, an empty STDOUT, END_REQUEST; one send. */
static void
answer(int fd)
{
	unsigned char	 out[256];
	size_t		 n = sizeof(body) - 1, pad = (8 - n % 8) % 8, o = 0;

	header(out, FCGI_STDOUT, conns[fd].reqid, n, (int)pad);
	memcpy(out + 8, body, n);
	memset(out + 8 + n, 0, pad);
	o = 8 + n + pad;
	header(out + o, FCGI_STDOUT, conns[fd].reqid, 0, 0);
	o += 8;
	header(out + o, FCGI_END_REQUEST, conns[fd].reqid, 8, 0);
	memset(out + o + 8, 0, 8);
	o += 16;
	if (send(fd, out, o, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)o ||
	    !conns[fd].keep)
		drop(fd);
}

/* Does the PARAMS content p..p+n name QUERY_STRING=release? */
static int
params_release(const unsigned char *p, size_t n)
{
	size_t	i = 0, kl, vl;

	while (i < n) {
		if (p[i] & 0x80) {
			if (i + 4 > n)
				return 0;
			kl = ((p[i] & 0x7f) << 24) | (p[i + 1] << 16) |
			    (p[i + 2] << 8) | p[i + 3];
			i += 4;
		} else
			kl = p[i++];
		if (i >= n)
			return 0;
		if (p[i] & 0x80) {
			if (i + 4 > n)
				return 0;
			vl = ((p[i] & 0x7f) << 24) | (p[i + 1] << 16) |
			    (p[i + 2] << 8) | p[i + 3];
			i += 4;
		} else
			vl = p[i++];
		if (i + kl + vl > n)
			return 0;
		if (kl == 12 && memcmp(p + i, "QUERY_STRING", 12) == 0 &&
		    vl == 7 && memcmp(p + i + kl, "release", 7) == 0)
			return 1;
		i += kl + vl;
	}
	return 0;
}

/* Take the complete records of fd's buffer; a finished request is held. */
static void
records(int fd)
{
	struct conn	*c = &conns[fd];
	size_t		 off = 0, n;
	unsigned char	*h;

	while (c->len - off >= 8) {
		h = c->buf + off;
		n = (h[4] << 8 | h[5]) + h[6];
		if (c->len - off < 8 + n)
			break;
		switch (h[1]) {
		case FCGI_BEGIN_REQUEST:
			c->reqid = h[2] << 8 | h[3];
			c->keep = (h[8 + 2] & FCGI_KEEP_CONN) != 0;
			c->release = 0;
			break;
		case FCGI_PARAMS:
			if (params_release(h + 8, h[4] << 8 | h[5]))
				c->release = 1;
			break;
		case FCGI_STDIN:
			if ((h[4] << 8 | h[5]) != 0)
				break;
			if (c->release) {
				kill(0, SIGUSR1);
				answer(fd);
				if (conns[fd].buf == NULL)
					return;		/* dropped */
			} else
				hold(fd);
			break;
		}
		off += 8 + n;
	}
	memmove(c->buf, c->buf + off, c->len - off);
	c->len -= off;
}

static void
readable(int fd)
{
	struct conn	*c = &conns[fd];
	ssize_t		 r;

	for (;;) {
		if (c->cap - c->len < 4096) {
			c->cap = c->cap ? c->cap * 2 : 8192;
			if ((c->buf = realloc(c->buf, c->cap)) == NULL)
				abort();
		}
		r = recv(fd, c->buf + c->len, c->cap - c->len, MSG_DONTWAIT);
		if (r == 0 || (r == -1 && errno != EAGAIN && errno != EINTR)) {
			drop(fd);
			return;
		}
		if (r == -1)
			break;
		c->len += (size_t)r;
	}
	records(fd);
}

static void
broadcast(void)
{
	int	fd, next;

	for (fd = held_head; fd != -1; fd = next) {
		next = conns[fd].next;
		unhold(fd);
		answer(fd);
	}
}

static int
serve(const char *path)
{
	struct sockaddr_un	 sun;
	struct epoll_event	 ev, evs[256];
	struct rlimit		 rl;
	sigset_t		 set;
	int			 ls, sfd, fd, n, i;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	nconns = (int)rl.rlim_cur;
	if ((conns = calloc((size_t)nconns, sizeof(*conns))) == NULL)
		return 1;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "%s: path too long\n", path);
		return 1;
	}
	memcpy(sun.sun_path, path, strlen(path));
	unlink(path);
	if ((ls = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0)) == -1 ||
	    bind(ls, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    listen(ls, 4096) == -1) {
		perror(path);
		return 1;
	}
	chmod(path, 0660);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	if ((sfd = signalfd(-1, &set, SFD_NONBLOCK)) == -1 ||
	    (ep = epoll_create1(0)) == -1)
		return 1;
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.fd = ls;
	epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
	ev.data.fd = sfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);
	for (;;) {
		n = epoll_wait(ep, evs, 256, -1);
		for (i = 0; i < n; i++) {
			fd = evs[i].data.fd;
			if (fd == ls) {
				while ((fd = accept4(ls, NULL, NULL,
				    SOCK_NONBLOCK)) != -1) {
					if (fd >= nconns) {
						close(fd);
						continue;
					}
					ev.events = EPOLLIN | EPOLLRDHUP;
					ev.data.fd = fd;
					epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
				}
			} else if (fd == sfd) {
				struct signalfd_siginfo	si;

				while (read(sfd, &si, sizeof(si)) > 0)
					;
				broadcast();
			} else if (evs[i].events & EPOLLIN)
				readable(fd);
			else
				drop(fd);
		}
	}
}

int
main(int argc, char *argv[])
{
	sigset_t	 set;
	char		 path[512];
	int		 i, n;

	if (argc != 3 || (n = atoi(argv[2])) < 1) {
		fprintf(stderr, "usage: bench_broadcast socket-prefix nproc\n");
		return 2;
	}
	/* A process group of our own: kill(0, SIGUSR1) reaches us all. */
	setpgid(0, 0);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s-%d.sock", argv[1], i);
		if (fork() == 0)
			return serve(path);
	}
	while (wait(NULL) > 0)
		;
	return 0;
}
