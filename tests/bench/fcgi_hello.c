/*
 * fcgi_hello.c -- the benchmark's second baseline: the most trivial
 * libfcgi responder (threads blocking in FCGX_Accept_r, one fixed JSON
 * reply), behind the same nginx.  Portcullis's hot paths are measured
 * against it and against nginx answering by itself.
 *
 *   fcgi_hello SOCKET THREADS
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fcgiapp.h>

static int	sock;

static void *
serve(void *arg)
{
	FCGX_Request	r;

	(void)arg;
	FCGX_InitRequest(&r, sock, 0);
	while (FCGX_Accept_r(&r) >= 0) {
		FCGX_PutS("Status: 200 OK\r\nContent-Type: application/json\r\n"
		    "Content-Length: 16\r\n\r\n{\"Allowed\":true}", r.out);
		FCGX_Finish_r(&r);
	}
	return NULL;
}

int
main(int argc, char *argv[])
{
	pthread_t	*th;
	int		 i, n;

	if (argc != 3) {
		fprintf(stderr, "usage: fcgi_hello socket threads\n");
		return 2;
	}
	n = atoi(argv[2]);
	FCGX_Init();
	signal(SIGTERM, SIG_DFL);	/* libfcgi's handler would keep us alive */
	unlink(argv[1]);
	if ((sock = FCGX_OpenSocket(argv[1], 4096)) < 0)
		return 1;
	chmod(argv[1], 0660);
	th = calloc((size_t)n, sizeof(*th));
	for (i = 0; i < n; i++)
		pthread_create(&th[i], NULL, serve, NULL);
	for (i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	return 0;
}
