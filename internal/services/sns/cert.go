package sns

// CertPath is where the edge serves the certificate of the key
// notifications are signed with (SigningCertURL).
const CertPath = "/SimpleNotificationService-kumo.pem"
