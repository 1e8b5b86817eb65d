// The Packages page's upload with a progress bar: sends the upload form with
// XMLHttpRequest so that the <progress> follows the bytes sent, then shows the page the
// server answered. Without this script the form posts as a plain multipart form.
'use strict';

function bindUpload() {
  const form = document.getElementById('upload-form');
  const bar = document.getElementById('upload-progress');
  const status = document.getElementById('upload-status');
  if (!form || !bar || !status) return;
  form.addEventListener('submit', (ev) => {
    const input = document.getElementById('upload-file');
    const file = input && input.files && input.files[0];
    const max = Number(form.dataset.maxBytes || 0);
    if (file && max > 0 && file.size > max) {
      ev.preventDefault();
      status.textContent = 'The file is too large: the console takes up to ' + Math.floor(max / 1048576) + ' MiB; use acc ctl package add.';
      return;
    }
    ev.preventDefault();
    const xhr = new XMLHttpRequest();
    xhr.open('POST', form.action);
    bar.value = 0;
    status.textContent = 'Uploading…';
    xhr.upload.addEventListener('progress', (e) => {
      if (e.lengthComputable) {
        bar.max = e.total;
        bar.value = e.loaded;
        status.textContent = 'Sent ' + e.loaded + ' of ' + e.total + ' bytes.';
      }
    });
    xhr.addEventListener('load', () => {
      if (xhr.status === 413) {
        status.textContent = 'The file is too large for the console; use acc ctl package add.';
        return;
      }
      const doc = new DOMParser().parseFromString(xhr.responseText, 'text/html');
      const main = doc.getElementById('main');
      if (!main) {
        status.textContent = 'The server answered ' + xhr.status + '; reload the page.';
        return;
      }
      // Keep the live bar (at its maximum) and status in the new page.
      const freshBar = main.querySelector('#upload-progress');
      if (freshBar) freshBar.replaceWith(bar);
      const freshStatus = main.querySelector('#upload-status');
      status.textContent = xhr.status === 200 ? 'Uploaded.' : 'Refused; see the messages above.';
      if (freshStatus) freshStatus.replaceWith(status);
      document.getElementById('main').replaceChildren(...main.childNodes);
      bindUpload();
    });
    xhr.addEventListener('error', () => {
      status.textContent = 'The upload failed: the connection was lost.';
    });
    xhr.send(new FormData(form));
  });
}

bindUpload();
