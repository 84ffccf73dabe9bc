// The transport's limit for the benchmark: a Unix-socket server that answers every line it
// reads with one fixed line, a thread per connection, nothing else. Built by
// collegedb-benchmark with `cc -O2 -pthread`. Usage: echo SOCKET_PATH
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static const char reply[] =
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"id\":1,\"name\":\"user 1\",\"email\":\"user1@example.com\"}}\n";

static void *serve(void *argument) {
    int fd = (int)(long)argument;
    char buffer[65536];
    ssize_t count;
    while ((count = read(fd, buffer, sizeof buffer)) > 0) {
        for (ssize_t i = 0; i < count; i++) {
            if (buffer[i] == '\n' && write(fd, reply, sizeof reply - 1) < 0) goto done;
        }
    }
done:
    close(fd);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    sigset_t none; /* the benchmark's threads block SIGTERM; let it stop this server */
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    int listener = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    strncpy(address.sun_path, argv[1], sizeof address.sun_path - 1);
    unlink(argv[1]);
    if (bind(listener, (struct sockaddr *)&address, sizeof address) < 0 || listen(listener, 128) < 0) {
        perror("echo");
        return 1;
    }
    for (;;) {
        int fd = accept(listener, NULL, NULL);
        if (fd < 0) continue;
        pthread_t thread;
        pthread_create(&thread, NULL, serve, (void *)(long)fd);
        pthread_detach(thread);
    }
}
