/* false: return false (POSIX.1-2017 XCU "false"): exits with status 1, ignoring its arguments. */
int main(void) { return 1; }
