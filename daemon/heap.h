/* heap.h - a binary min-heap of deadlines, intrusive: the caller embeds a
 * struct heap_node in its own object and finds the object again with
 * container_of(). Setting, moving and removing a node is O(log n), the
 * earliest deadline O(1). No allocation per node; nothing here logs. */
#pragma once

#include <stddef.h>
#include "util.h"

struct heap_node {
        usec_t when; /* USEC_INFINITY: not in the heap */
        size_t idx;  /* position in the heap, SIZE_MAX when not in it */
};

struct heap {
        struct heap_node **v;
        size_t n, cap;
};

#define HEAP_NODE_INIT { .when = USEC_INFINITY, .idx = SIZE_MAX }

static inline void heap_node_init(struct heap_node *n) { *n = (struct heap_node)HEAP_NODE_INIT; }

/* Puts n at when (moving it when it is in the heap already); USEC_INFINITY
 * takes it out. */
void heap_set(struct heap *h, struct heap_node *n, usec_t when);
void heap_remove(struct heap *h, struct heap_node *n);
/* The earliest node, or NULL. */
static inline struct heap_node *heap_top(const struct heap *h) { return h->n ? h->v[0] : NULL; }
static inline usec_t heap_next(const struct heap *h) { return h->n ? h->v[0]->when : USEC_INFINITY; }
/* Frees the array; the nodes are the caller's (marked out of the heap). */
void heap_done(struct heap *h);
