/*
 * offload.c — helper threads for CPU-bound work. Jobs move queued → running →
 * done under one mutex; a thread that finishes a job writes one byte to a pipe
 * and the loop, woken by it, runs the done callbacks. Cancelling only marks the
 * job: whoever holds it last (the loop when it is queued or done, the loop on
 * delivery when it was running) frees it.
 */
#include "server/offload.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "server/util.h"

#define OFFLOAD_MAX_THREADS 16

struct offload_job {
    struct offload *o;
    offload_work_fn work;
    offload_done_fn done;
    void *data, *arg;
    bool cancelled; /* under o->lock */
    struct offload_job *next;
};

struct job_list {
    struct offload_job *head, *tail;
};

struct offload {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    struct job_list queued, done;
    int pending; /* queued + running + done, not yet delivered */
    int max_pending;
    bool stopping;
    pthread_t threads[OFFLOAD_MAX_THREADS];
    int nthreads;
    int pipe[2];
    struct event *ev;
};

static void list_push(struct job_list *l, struct offload_job *j)
{
    j->next = NULL;
    if (l->tail != NULL)
        l->tail->next = j;
    else
        l->head = j;
    l->tail = j;
}

static struct offload_job *list_pop(struct job_list *l)
{
    struct offload_job *j = l->head;

    if (j != NULL) {
        l->head = j->next;
        if (l->head == NULL)
            l->tail = NULL;
    }
    return j;
}

static void job_free(struct offload_job *j)
{
    free(j->data);
    free(j);
}

static void *thread_main(void *arg)
{
    struct offload *o = arg;
    struct offload_job *j;

    pthread_mutex_lock(&o->lock);
    for (;;) {
        while (!o->stopping && o->queued.head == NULL)
            pthread_cond_wait(&o->wake, &o->lock);
        if (o->stopping)
            break;
        j = list_pop(&o->queued);
        bool skip = j->cancelled;
        pthread_mutex_unlock(&o->lock);
        if (!skip)
            j->work(j->data);
        pthread_mutex_lock(&o->lock);
        list_push(&o->done, j);
        /* one byte per job; the loop drains them all: a full pipe only delays */
        ssize_t n = write(o->pipe[1], "j", 1);
        (void)n;
    }
    pthread_mutex_unlock(&o->lock);
    return NULL;
}

/* On the loop: every finished job's callback, outside the lock. */
static void on_pipe(evutil_socket_t fd, short what, void *arg)
{
    struct offload *o = arg;
    struct job_list ready;
    char drain[256];

    (void)what;
    while (read(fd, drain, sizeof(drain)) > 0)
        ;
    pthread_mutex_lock(&o->lock);
    ready = o->done;
    o->done.head = o->done.tail = NULL;
    pthread_mutex_unlock(&o->lock);
    for (struct offload_job *j = ready.head, *next; j != NULL; j = next) {
        next = j->next;
        pthread_mutex_lock(&o->lock);
        bool cancelled = j->cancelled;
        o->pending--;
        pthread_mutex_unlock(&o->lock);
        if (!cancelled)
            j->done(j->data, j->arg);
        job_free(j);
    }
}

struct offload *offload_new(struct event_base *base, int threads, int max_pending)
{
    struct offload *o = xcalloc(1, sizeof(*o));

    if (threads < 1)
        threads = 1;
    if (threads > OFFLOAD_MAX_THREADS)
        threads = OFFLOAD_MAX_THREADS;
    o->max_pending = max_pending > 0 ? max_pending : 64;
    pthread_mutex_init(&o->lock, NULL);
    pthread_cond_init(&o->wake, NULL);
    if (pipe2(o->pipe, O_NONBLOCK | O_CLOEXEC) != 0) {
        fprintf(stderr, "{\"level\":\"error\",\"msg\":\"offload: pipe: %s\"}\n", strerror(errno));
        abort(); /* no descriptors at start-up: nothing sensible to do */
    }
    o->ev = event_new(base, o->pipe[0], EV_READ | EV_PERSIST, on_pipe, o);
    event_add(o->ev, NULL);
    for (int i = 0; i < threads; i++)
        if (pthread_create(&o->threads[o->nthreads], NULL, thread_main, o) == 0)
            o->nthreads++;
    if (o->nthreads == 0)
        abort();
    return o;
}

void offload_free(struct offload *o)
{
    struct offload_job *j;

    if (o == NULL)
        return;
    pthread_mutex_lock(&o->lock);
    o->stopping = true;
    pthread_cond_broadcast(&o->wake);
    pthread_mutex_unlock(&o->lock);
    for (int i = 0; i < o->nthreads; i++)
        pthread_join(o->threads[i], NULL);
    while ((j = list_pop(&o->queued)) != NULL)
        job_free(j);
    while ((j = list_pop(&o->done)) != NULL)
        job_free(j);
    event_free(o->ev);
    close(o->pipe[0]);
    close(o->pipe[1]);
    pthread_cond_destroy(&o->wake);
    pthread_mutex_destroy(&o->lock);
    free(o);
}

struct offload_job *offload_submit(struct offload *o, offload_work_fn work, void *data,
                                   offload_done_fn done, void *arg)
{
    struct offload_job *j;

    pthread_mutex_lock(&o->lock);
    if (o->pending >= o->max_pending) {
        pthread_mutex_unlock(&o->lock);
        free(data);
        return NULL;
    }
    j = xcalloc(1, sizeof(*j));
    *j = (struct offload_job){o, work, done, data, arg, false, NULL};
    o->pending++;
    list_push(&o->queued, j);
    pthread_cond_signal(&o->wake);
    pthread_mutex_unlock(&o->lock);
    return j;
}

void offload_cancel(struct offload_job *job)
{
    if (job == NULL)
        return;
    pthread_mutex_lock(&job->o->lock);
    job->cancelled = true; /* a queued one is skipped, a running one finishes unseen */
    pthread_mutex_unlock(&job->o->lock);
}
