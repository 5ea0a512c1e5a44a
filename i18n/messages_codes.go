package i18n

// codesMessages holds the failure-code catalog pages' texts.
var codesMessages = map[string]msg{}
