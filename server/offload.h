/*
 * offload.h — CPU-bound work off the event loop (scrypt password hashing is the
 * one user): a worker's small pool of helper threads takes jobs from a bounded
 * queue and hands them back to the loop through a pipe, where their done
 * callback runs. The work function sees only its job's data, never the loop or
 * a request, so a request that goes away cancels its job without waiting for it.
 */
#ifndef MCX_OFFLOAD_H
#define MCX_OFFLOAD_H

struct event_base;
struct offload;
struct offload_job;

/* Runs on a helper thread with the job's data, and nothing else. */
typedef void (*offload_work_fn)(void *data);
/* Runs on the loop after the work, unless the job was cancelled. */
typedef void (*offload_done_fn)(void *data, void *arg);

/* threads helper threads (1..16), at most max_pending jobs queued or running. */
struct offload *offload_new(struct event_base *base, int threads, int max_pending);
/* Joins the threads; jobs still queued are dropped, with no callback. */
void offload_free(struct offload *o);

/*
 * Queues work(data), then done(data, arg) on the loop (never inside this call).
 * data is the job's from now on: it is freed with free() after done returns or
 * after the job is cancelled. NULL when the queue is full (data is freed then too).
 */
struct offload_job *offload_submit(struct offload *o, offload_work_fn work, void *data,
                                   offload_done_fn done, void *arg);
/* done will not be called; the job's data is freed when its work has finished. */
void offload_cancel(struct offload_job *job);

#endif
