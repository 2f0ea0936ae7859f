// Catch2's main, in a unit of its own so the test files that compile the kernels stay few.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
