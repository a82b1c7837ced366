package com.amazonaws.services.lambda.runtime;

import java.util.Map;

/** The client context of a mobile caller, as aws-lambda-java-core declares it. */
public interface ClientContext {
    Client getClient();

    Map<String, String> getCustom();

    Map<String, String> getEnvironment();
}
