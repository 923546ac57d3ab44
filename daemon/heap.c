/* heap.c - the binary min-heap of heap.h. Owns only the array of node
 * pointers; the nodes live in their owners' objects. */
#include <stdlib.h>

#include "heap.h"

static void put(struct heap *h, size_t i, struct heap_node *n)
{
        h->v[i] = n;
        n->idx = i;
}

static void sift_up(struct heap *h, size_t i)
{
        struct heap_node *n = h->v[i];

        while (i > 0 && h->v[(i - 1) / 2]->when > n->when) {
                put(h, i, h->v[(i - 1) / 2]);
                i = (i - 1) / 2;
        }
        put(h, i, n);
}

static void sift_down(struct heap *h, size_t i)
{
        struct heap_node *n = h->v[i];

        for (;;) {
                size_t m = 2 * i + 1;

                if (m >= h->n)
                        break;
                if (m + 1 < h->n && h->v[m + 1]->when < h->v[m]->when)
                        m++;
                if (h->v[m]->when >= n->when)
                        break;
                put(h, i, h->v[m]);
                i = m;
        }
        put(h, i, n);
}

void heap_remove(struct heap *h, struct heap_node *n)
{
        size_t i = n->idx;

        if (i == SIZE_MAX)
                return;
        n->idx = SIZE_MAX;
        n->when = USEC_INFINITY;
        if (i == --h->n)
                return;
        {
                struct heap_node *last = h->v[h->n];

                put(h, i, last);
                sift_down(h, i);
                sift_up(h, last->idx);
        }
}

void heap_set(struct heap *h, struct heap_node *n, usec_t when)
{
        if (when == USEC_INFINITY) {
                heap_remove(h, n);
                return;
        }
        if (n->idx == SIZE_MAX) {
                if (h->n == h->cap) {
                        h->cap = h->cap ? 2 * h->cap : 16;
                        h->v = xrealloc(h->v, h->cap * sizeof *h->v);
                }
                n->when = when;
                put(h, h->n++, n);
                sift_up(h, n->idx);
                return;
        }
        n->when = when;
        sift_up(h, n->idx);
        sift_down(h, n->idx);
}

void heap_done(struct heap *h)
{
        for (size_t i = 0; i < h->n; i++) {
                h->v[i]->idx = SIZE_MAX;
                h->v[i]->when = USEC_INFINITY;
        }
        free(h->v);
        *h = (struct heap){ 0 };
}
