package com.amazonaws.services.lambda.runtime;

/** The function's logger, as aws-lambda-java-core declares it. */
public interface LambdaLogger {
    void log(String message);

    void log(byte[] message);
}
