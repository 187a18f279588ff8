/* fs_health: status changes reach watchers once; known service names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fs_health.h"

static int seen[8], n_seen;

static void on_changed(fs_health_watcher *w, int status) {
    seen[n_seen++] = status;
}

static fs_health *self_removing_health;
static void on_changed_unwatch(fs_health_watcher *w, int status) {
    seen[n_seen++] = status;
    fs_health_unwatch(self_removing_health, w);
}

static void test_watchers(void **state) {
    fs_health h;
    fs_health_init(&h);
    assert_int_equal(fs_health_get(&h), FS_HEALTH_NOT_SERVING);
    fs_health_watcher a = {.changed = on_changed}, b = {.changed = on_changed_unwatch};
    self_removing_health = &h;
    n_seen = 0;
    fs_health_watch(&h, &a);
    fs_health_watch(&h, &b);
    fs_health_set(&h, FS_HEALTH_NOT_SERVING); /* no change: nobody is told */
    assert_int_equal(n_seen, 0);
    fs_health_set(&h, FS_HEALTH_SERVING);
    assert_int_equal(n_seen, 2);
    fs_health_set(&h, FS_HEALTH_NOT_SERVING); /* b removed itself */
    assert_int_equal(n_seen, 3);
    assert_int_equal(seen[2], FS_HEALTH_NOT_SERVING);
    fs_health_unwatch(&h, &a);
    fs_health_unwatch(&h, &a); /* twice is harmless */
    fs_health_set(&h, FS_HEALTH_SERVING);
    assert_int_equal(n_seen, 3);
    assert_null(h.watchers);
}

static void test_services(void **state) {
    assert_true(fs_health_known_service(""));
    assert_true(fs_health_known_service("framegate.v1.FrameService"));
    assert_false(fs_health_known_service("framegate.v1.Other"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_watchers),
        cmocka_unit_test(test_services),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
