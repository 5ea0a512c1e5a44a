// PayMend console helpers. No inline script: CSP forbids it.
