/*
 * subprocess.h - what subprocess.c (child processes) lends the subprocess
 * transport (transport_subprocess.c): the child's pipe descriptors and
 * the future completed when it is reaped.  Spawning, reaping and signals
 * stay in subprocess.c alone.
 */
#ifndef CIO_NET_SUBPROCESS_INTERNAL_H
#define CIO_NET_SUBPROCESS_INTERNAL_H

#include "cio/subprocess.h"
#include "cio/task.h"

/* Hands over the parent's end of the child's pipe i (0 stdin, 1 stdout,
 * 2 stderr): the descriptor (non-blocking, close-on-exec; now the
 * caller's to close), or -1 if i is not a pipe or was taken already. */
int cio__subprocess_take_pipe(cio_subprocess *p, int i);

/* The future completed (with no result) when the child has been reaped;
 * owned by p; NULL once the loop has closed. */
cio_future *cio__subprocess_exited(cio_subprocess *p);

#endif
