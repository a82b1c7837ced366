package com.amazonaws.services.lambda.runtime;

import java.nio.charset.StandardCharsets;

/** The runtime's logger outside a handler, as aws-lambda-java-core declares it. */
public final class LambdaRuntime {
    private LambdaRuntime() {
    }

    private static volatile LambdaLogger logger = new LambdaLogger() {
        public void log(String message) {
            if (message == null) {
                message = "null";
            }
            log(message.getBytes(StandardCharsets.UTF_8));
        }

        /** One call, one log line: inner newlines become carriage returns. */
        public void log(byte[] message) {
            int n = message.length;
            while (n > 0 && message[n - 1] == '\n') {
                n--;
            }
            byte[] line = new byte[n + 1];
            for (int i = 0; i < n; i++) {
                line[i] = message[i] == '\n' ? (byte) '\r' : message[i];
            }
            line[n] = '\n';
            synchronized (System.out) {
                System.out.write(line, 0, line.length);
                System.out.flush();
            }
        }
    };

    public static LambdaLogger getLogger() {
        return logger;
    }
}
