package com.amazonaws.services.lambda.runtime;

/** The client application of a mobile caller, as aws-lambda-java-core declares it. */
public interface Client {
    String getInstallationId();

    String getAppTitle();

    String getAppVersionName();

    String getAppVersionCode();

    String getAppPackageName();
}
