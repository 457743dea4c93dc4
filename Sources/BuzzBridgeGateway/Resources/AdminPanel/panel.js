document.querySelectorAll('[data-copy]').forEach(function(button){button.addEventListener('click',function(){
  var text=document.getElementById(button.dataset.copy).textContent;
  navigator.clipboard.writeText(text).then(function(){button.textContent='Copied';});});});
var qr=document.querySelector('[data-qr-poll]');
if(qr){var url=qr.dataset.qrPoll;(function poll(){fetch(url,{credentials:'same-origin'}).then(function(r){return r.json();}).then(function(s){
  var status=document.getElementById('session-status');if(status){status.textContent=s.status;status.className='badge '+s.status;}
  if(s.status==='active'){qr.innerHTML='<p class="notice">Connected as '+(s.phone_number||'')+'. Reloading…</p>';setTimeout(function(){location.reload();},800);return;}
  if(s.qr_code){var img=qr.querySelector('img');if(img.getAttribute('src')!==s.qr_code){img.setAttribute('src',s.qr_code);}
    var expiry=document.getElementById('qr-expiry');if(expiry){expiry.textContent=s.expires_at;}}
  setTimeout(poll,2000);}).catch(function(){setTimeout(poll,5000);});})();}
