#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fg_status.h"

static void names_match_grpc(void **state) {
    assert_string_equal(fg_status_name(0), "OK");
    assert_string_equal(fg_status_name(4), "DEADLINE_EXCEEDED");
    assert_string_equal(fg_status_name(14), "UNAVAILABLE");
    assert_string_equal(fg_status_name(16), "UNAUTHENTICATED");
    assert_string_equal(fg_status_name(17), "UNKNOWN_STATUS");
    assert_string_equal(fg_status_name(-1), "UNKNOWN_STATUS");
}

/* The contract's table, row by row. */
static void fault_classes_follow_the_contract(void **state) {
    assert_int_equal(fg_status_fault(0), FG_FAULT_NONE);
    const int request[] = {3, 5, 11};
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(fg_status_fault(request[i]), FG_FAULT_REQUEST);
    assert_int_equal(fg_status_fault(8), FG_FAULT_BUSY);
    const int backend[] = {14, 13, 2, 15, 12};
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(fg_status_fault(backend[i]), FG_FAULT_BACKEND);
    /* v1.1: a deadline is a fault only on an otherwise idle backend; the pool decides. */
    assert_int_equal(fg_status_fault(4), FG_FAULT_TIMEOUT);
}

static void http_and_h2_codes_map_as_grpc_specifies(void **state) {
    assert_int_equal(fg_status_from_http(400), FG_STATUS_INTERNAL);
    assert_int_equal(fg_status_from_http(401), FG_STATUS_UNAUTHENTICATED);
    assert_int_equal(fg_status_from_http(403), FG_STATUS_PERMISSION_DENIED);
    assert_int_equal(fg_status_from_http(404), FG_STATUS_UNIMPLEMENTED);
    assert_int_equal(fg_status_from_http(503), FG_STATUS_UNAVAILABLE);
    assert_int_equal(fg_status_from_http(500), FG_STATUS_UNKNOWN);
    assert_int_equal(fg_status_from_h2_error(0x7), FG_STATUS_UNAVAILABLE);
    assert_int_equal(fg_status_from_h2_error(0x8), FG_STATUS_CANCELLED);
    assert_int_equal(fg_status_from_h2_error(0xb), FG_STATUS_RESOURCE_EXHAUSTED);
    assert_int_equal(fg_status_from_h2_error(0x2), FG_STATUS_INTERNAL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(names_match_grpc),
        cmocka_unit_test(fault_classes_follow_the_contract),
        cmocka_unit_test(http_and_h2_codes_map_as_grpc_specifies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
