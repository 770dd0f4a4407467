/*
 * router.c — a linear table of patterns. A node has a few dozen routes, so a
 * scan of pre-split segments beats any tree in both speed and clarity.
 */
#include "server/router.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct router {
    struct route *routes;
    int nroutes;
};

struct router *router_new(void)
{
    return xcalloc(1, sizeof(struct router));
}

void router_free(struct router *r)
{
    if (r == NULL)
        return;
    for (int i = 0; i < r->nroutes; i++) {
        for (int j = 0; j < r->routes[i].nsegments; j++)
            free(r->routes[i].segments[j]);
        free(r->routes[i].segments);
        free(r->routes[i].pattern);
    }
    free(r->routes);
    free(r);
}

static bool is_param(const char *seg)
{
    size_t n = strlen(seg);
    return n > 2 && seg[0] == '{' && seg[n - 1] == '}';
}

/* Splits "/a/b/c" into segments; "/" has none. -1 when not absolute. */
static int split_path(const char *path, char ***out, int *n)
{
    const char *p = path;

    *out = NULL;
    *n = 0;
    if (*p != '/')
        return -1;
    if (p[1] == '\0')
        return 0;
    while (*p == '/') {
        const char *seg = p + 1;
        const char *next = strchr(seg, '/');
        size_t len = next ? (size_t)(next - seg) : strlen(seg);
        *out = xrealloc(*out, sizeof(char *) * (size_t)(*n + 1));
        (*out)[(*n)++] = xstrndup(seg, len);
        if (next == NULL)
            break;
        p = next;
    }
    return 0;
}

static void free_segments(char **segs, int n)
{
    for (int i = 0; i < n; i++)
        free(segs[i]);
    free(segs);
}

int router_add(struct router *r, unsigned methods, const char *pattern, http_handler_fn handler,
               void *arg, size_t max_body)
{
    struct route rt = {0};
    int nparams = 0;

    if (split_path(pattern, &rt.segments, &rt.nsegments) != 0) {
        fprintf(stderr, "router: pattern %s is not absolute\n", pattern);
        return -1;
    }
    for (int i = 0; i < rt.nsegments; i++)
        nparams += is_param(rt.segments[i]);
    if (nparams > ROUTER_MAX_PARAMS) {
        fprintf(stderr, "router: pattern %s has too many parameters\n", pattern);
        free_segments(rt.segments, rt.nsegments);
        return -1;
    }
    rt.methods = methods;
    if (methods & HTTP_GET)
        rt.methods |= HTTP_HEAD;
    rt.pattern = xstrdup(pattern);
    rt.handler = handler;
    rt.arg = arg;
    rt.max_body = max_body;
    r->routes = xrealloc(r->routes, sizeof(struct route) * (size_t)(r->nroutes + 1));
    r->routes[r->nroutes++] = rt;
    return 0;
}

static bool route_fits(const struct route *rt, char *const *segs, int n)
{
    if (rt->nsegments != n)
        return false;
    for (int i = 0; i < n; i++) {
        if (is_param(rt->segments[i])) {
            if (segs[i][0] == '\0')
                return false;
        } else if (strcmp(rt->segments[i], segs[i]) != 0) {
            return false;
        }
    }
    return true;
}

static void fill_params(const struct route *rt, char *const *segs, struct route_match *m)
{
    for (int i = 0; i < rt->nsegments; i++) {
        if (!is_param(rt->segments[i]))
            continue;
        /* the pattern owns the name; skip the braces by pointing past '{' */
        m->params[m->nparams].name = rt->segments[i];
        m->params[m->nparams].value = xstrdup(segs[i]);
        m->nparams++;
    }
}

int router_match(const struct router *r, enum http_method method, const struct http_target *t,
                 struct route_match *m)
{
    memset(m, 0, sizeof(*m));
    if (t->trailing_slash && t->nsegs > 0)
        return 404;
    for (int i = 0; i < r->nroutes; i++) {
        const struct route *rt = &r->routes[i];
        if (!route_fits(rt, t->segs, t->nsegs))
            continue;
        if (!(rt->methods & method)) {
            m->allowed |= rt->methods;
            continue;
        }
        m->route = rt;
        fill_params(rt, t->segs, m);
        return 0;
    }
    return m->allowed ? 405 : 404;
}

void route_match_cleanup(struct route_match *m)
{
    for (int i = 0; i < m->nparams; i++)
        free(m->params[i].value);
    m->nparams = 0;
}

const char *route_match_param(const struct route_match *m, const char *name)
{
    size_t n = strlen(name);

    for (int i = 0; i < m->nparams; i++) {
        const char *p = m->params[i].name; /* "{name}" */
        if (strlen(p) == n + 2 && strncmp(p + 1, name, n) == 0)
            return m->params[i].value;
    }
    return NULL;
}
