// Test certificate authorities made at test time (openssl; no key or certificate is checked in):
// `makeCa(dir, name)` writes `<name>-ca.pem` (a self-signed CA) and `<name>-cert.pem` /
// `<name>-key.pem`, a server certificate it signs for 127.0.0.1 and localhost (EC P-256, one
// day), and returns their paths. About 0.1 s per CA.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

function openssl(args) {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

export function makeCa(dir, name) {
  const at = (file) => join(dir, `${name}-${file}`);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  openssl(['req', '-x509', ...ec, '-keyout', at('ca-key.pem'), '-out', at('ca.pem'), '-days', '1',
    '-subj', `/CN=tokenwarden test CA ${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign']);
  openssl(['req', ...ec, '-keyout', at('key.pem'), '-out', at('csr.pem'), '-subj', '/CN=127.0.0.1']);
  const ext = at('ext.cnf');
  writeFileSync(ext, 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n');
  openssl(['x509', '-req', '-in', at('csr.pem'), '-CA', at('ca.pem'), '-CAkey', at('ca-key.pem'),
    '-CAcreateserial', '-out', at('cert.pem'), '-days', '1', '-extfile', ext]);
  return { ca: at('ca.pem'), cert: at('cert.pem'), key: at('key.pem') };
}
