/* gracectl.c - placeholder: the client is being written. */
int main(void) { return 69; }
